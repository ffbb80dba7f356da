"""The GPU machine itself (`@local`): whisper.cpp built by the builds role, and the whisper-server
command line the engines role renders (docs/hardware-validation.md)."""

from thorfleet.inventory import attach_config

asr = ["@local"]

attach_config(globals())
