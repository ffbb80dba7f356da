"""Revisions: the snapshot a deploy records (fingerprint, archive), the operation that records it with
fake facts, and the choice `--undo` makes among a unit's revisions."""

import io
import json
import tarfile

import pytest

from thorfleet.fleet import load_fleet
from thorfleet.revisions.record import Revisions, manifests, revision_recorded
from thorfleet.revisions.snapshot import Snapshot, extract, project_archive, snapshot
from thorfleet.revisions.unit import chosen

from .fake_host import run_operation

TAKEN = Snapshot("f" * 64, {"/etc/x": "1" * 64}, "inventory/lab.py", b"archive")


def lab(project_copy):
    return load_fleet(project_copy / "inventory" / "lab.py", secrets=False)


def test_the_fingerprint_is_the_units_rendered_files_and_the_archive_the_same_bytes_each_time(project_copy):
    fleet = lab(project_copy)
    first, again = snapshot(fleet.hosts["thor-01"], fleet), snapshot(fleet.hosts["thor-01"], lab(project_copy))
    assert first == again and first.inventory == "inventory/lab.py"
    assert snapshot(fleet.hosts["thor-02"], fleet).fingerprint != first.fingerprint
    (project_copy / "host_vars" / "thor-02.yml").write_text("engines: {qwen3-coder: {args: {top-k: 5}}}\n")
    changed = lab(project_copy)
    project_archive.cache_clear()
    assert snapshot(changed.hosts["thor-01"], changed).fingerprint == first.fingerprint  # another unit's change
    assert snapshot(changed.hosts["thor-02"], changed).fingerprint != snapshot(fleet.hosts["thor-02"], fleet).fingerprint


def test_the_archive_holds_the_configuration_and_never_a_file_a_secret_is_read_from(project_copy, tmp_path):
    (project_copy / "group_vars" / "api-key.txt").write_text("sk-do-not-ship\n")
    (project_copy / "host_vars" / "thor-03.yml").write_text("gateway: {api_key: {env: null, file: %s}}\n"
                                                            % (project_copy / "group_vars" / "api-key.txt"))
    fleet = lab(project_copy)
    taken = snapshot(fleet.hosts["thor-01"], fleet)
    names = tarfile.open(fileobj=io.BytesIO(taken.archive)).getnames()
    assert "inventory/lab.py" in names and "group_vars/all.yml" in names and "host_vars/thor-03.yml" in names
    assert "group_vars/api-key.txt" not in names and b"sk-do-not-ship" not in taken.archive
    extract(taken.archive, tmp_path / "back")
    assert (tmp_path / "back" / "group_vars" / "all.yml").read_text() == (project_copy / "group_vars" / "all.yml").read_text()
    assert load_fleet(tmp_path / "back" / "inventory" / "lab.py", secrets=False).hosts.keys() == fleet.hosts.keys()


def test_a_first_revision_is_written_archive_first_and_root_only():
    commands, _ = run_operation(revision_recorded, {"Revisions": []}, TAKEN, "thor-01")
    assert commands[0] == "install -d -m 700 /var/lib/thorfleet/revisions"
    assert commands[1] == ("/var/lib/thorfleet/revisions/0001-ffffffffffff.tar.gz", b"archive")
    assert commands[2] == "chmod 600 /var/lib/thorfleet/revisions/0001-ffffffffffff.tar.gz"
    dest, text = commands[3]
    manifest = json.loads(text)
    assert dest == "/var/lib/thorfleet/revisions/0001-ffffffffffff.json" and commands[4].startswith("chmod 600 ")
    assert manifest["number"] == 1 and manifest["host"] == "thor-01" and manifest["files"] == TAKEN.files
    assert len(commands) == 5


def test_the_same_configuration_again_records_nothing_and_says_which_revision_it_is():
    commands, noops = run_operation(revision_recorded, {"Revisions": [(1, "a" * 12), (2, "f" * 12)]}, TAKEN, "thor-01")
    assert commands == [] and noops == ["revision 0002-ffffffffffff is the unit's configuration"]


def test_an_earlier_configuration_again_is_a_new_revision_and_the_oldest_beyond_keep_go():
    found = [(1, "f" * 12), (2, "b" * 12), (3, "c" * 12)]
    commands, _ = run_operation(revision_recorded, {"Revisions": found}, TAKEN, "thor-01", keep=3)
    assert commands[1][0].endswith("/0004-ffffffffffff.tar.gz")
    assert commands[-1] == ("rm -f /var/lib/thorfleet/revisions/0001-ffffffffffff.json "
                            "/var/lib/thorfleet/revisions/0001-ffffffffffff.tar.gz")


def test_the_fact_lists_whole_revisions_only_in_order():
    listed = ["0010-cccccccccccc.json", "0002-bbbbbbbbbbbb.tar.gz", "0002-bbbbbbbbbbbb.json", "0011-dddddddddddd.tar.gz"]
    assert Revisions().process(listed) == [(2, "b" * 12), (10, "c" * 12)]


REVISIONS = manifests([json.dumps({"number": n, "name": f"{n:04d}-{c * 12}"}) for n, c in ((3, "c"), (1, "a"), (2, "b"))]
                      + ["not json", "{}"])


def test_manifests_are_read_in_order_and_lines_that_are_not_one_are_left_out():
    assert [m["number"] for m in REVISIONS] == [1, 2, 3]


@pytest.mark.parametrize("to, name", [(None, "0002-bbbbbbbbbbbb"), ("1", "0001-aaaaaaaaaaaa"), ("0003", "0003-cccccccccccc"),
                                      ("0002-bb", "0002-bbbbbbbbbbbb")])
def test_undo_chooses_the_one_before_the_newest_or_the_one_asked_for(to, name):
    assert chosen(REVISIONS, to)["name"] == name


def test_undo_says_why_when_there_is_no_such_revision():
    assert chosen(REVISIONS[:1], None) == "no earlier revision on the unit (1 recorded)"
    assert chosen(REVISIONS, "9").startswith("no single revision '9' on the unit (it has: 0001-aaaaaaaaaaaa, ")
