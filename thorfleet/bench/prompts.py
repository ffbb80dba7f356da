"""Prompts of an exact input length without a tokenizer on the controller.

Prompts are random sequences of short common English words, different for every request (so no
engine's prompt cache can serve one request from another's prefix). The server itself says how
many tokens a prompt has (`usage.prompt_tokens` of a one-token completion, its own tokenizer and
chat template); the word count is adjusted until it matches the wanted length. Each request's real
input tokens are then taken from the server's usage again, so the figures never rely on the guess.
"""

import random

from thorfleet.bench.client import Endpoint, prompt_tokens

WORDS = ("the of and to in is was he for it with as his on be at by had are but from or have an they "
         "which one you were all her she there would their we him been has when who will no more if out so "
         "up said what its about than into them can only other time new some could these two may first then "
         "do any like my now over such our man me even most made after also did many off before must well "
         "back through years much where your way down should because long each just state people those how "
         "too little good world make very year still see own work men day get here between both life being "
         "under never know same last another while us might great old off come since go came right used take "
         "three use during without place again around however home small found thought went say part once "
         "high upon school every don does got left number course war until always away something fact water").split()


def text(words: int, seed: int) -> str:
    chooser = random.Random(seed)
    return " ".join(chooser.choice(WORDS) for _ in range(words))


def calibrate(endpoint: Endpoint, input_len: int, tries: int = 6) -> int:
    """The word count whose prompts the server counts as `input_len` tokens (or the closest found)."""
    words = max(1, input_len - 8)
    best = words
    best_error = None
    for attempt in range(tries):
        tokens = prompt_tokens(endpoint, text(words, seed=-1 - attempt))
        error = tokens - input_len
        if best_error is None or abs(error) < abs(best_error):
            best, best_error = words, error
        if error == 0:
            break
        words = max(1, round(words * input_len / tokens)) if abs(error) > 8 else max(1, words - error)
    return best


def prompts(words: int, count: int, first_seed: int) -> list[str]:
    return [text(words, first_seed + i) for i in range(count)]
