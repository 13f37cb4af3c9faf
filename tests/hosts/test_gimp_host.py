"""The GIMP plug-in in the real GIMP 3.0.4 of the host root (Debian 13), against a real daemon on the tiny profile.

`cocreate plugins install gimp` puts the plug-in into a fresh GIMP profile (GIMP3_DIRECTORY under build/), and
tests/hosts/gimp/checks.py runs inside GIMP: gimp-console for batch mode, the full GIMP under Xvfb where a test
needs a person's keyboard (Ctrl+Z, the dialog). Each suite runs once per module and writes its facts to a
verdict file that the tests below judge. Needs the host root (tests/hosts/make-root) and root rights for
tests/hosts/in-root; skips otherwise.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cocreate_client import CocreateClient
from cocreate_client.pb import cocreate_pb2 as pb

from tests.hosts.root import NEEDS_HOST_ROOT
from tests.hosts.screenshots import SCREEN, keep_screenshot
from tests.support.daemon import Daemon, running_daemon

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WORK = REPO / "build" / "host-tests" / "gimp"  # bound at /project inside the root
PROFILE = WORK / "profile"
TOKEN = "gimp-check-token"
# The plug-in's menu action gets a shortcut, so the GUI suite can open its dialog from the keyboard.
SHORTCUTS = '(file-version 1)\n(action "plug-in-cocreate-expand" "<Primary><Shift><Alt>e")\n'

pytestmark = NEEDS_HOST_ROOT


def cocreate(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIMP3_DIRECTORY": str(PROFILE), "COLUMNS": "1000"}  # wide: rich must not wrap paths
    return subprocess.run(
        [sys.executable, "-m", "core_server", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def installed() -> Path:
    """`cocreate plugins install gimp` into a fresh profile; the folder it reports."""
    shutil.rmtree(WORK, ignore_errors=True)
    run = cocreate("plugins", "install", "gimp")
    assert run.returncode == 0, run.stdout + run.stderr
    match = re.search(r"installed the gimp plugin into\s+(\S+)", run.stdout)
    assert match, run.stdout
    (PROFILE / "shortcutsrc").write_text(SHORTCUTS)
    shutil.copy(HERE / "gimp" / "checks.py", WORK / "checks.py")
    return Path(match.group(1))


@pytest.fixture(scope="module")
def daemon(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running_daemon(tmp_path_factory.mktemp("home"), listen="127.0.0.1:0", token=TOKEN) as started:
        yield started


def run_suite(suite: str, endpoint: str, *, gui: bool = False) -> dict[str, Any]:
    """Run one suite of checks.py in GIMP; its verdict."""
    verdict = WORK / f"verdict-{suite}.json"
    verdict.unlink(missing_ok=True)
    env = (
        f"GIMP3_DIRECTORY=/project/profile COCREATE_ENDPOINT={endpoint} COCREATE_TOKEN={TOKEN} COCREATE_CHECKS={suite}"
    )
    # Under Xvfb, core X events: keys sent to a window then arrive as a keyboard's would.
    gimp = f"GDK_CORE_DEVICE_EVENTS=1 xvfb-run -a -s '{SCREEN}' gimp-3.0 --no-splash" if gui else "gimp-console-3.0 -i"
    command = f"{env} {gimp} --batch-interpreter python-fu-eval -b - --quit < checks.py"
    run = subprocess.run(
        [str(HERE / "in-root"), "-d", str(WORK), "--", "sh", "-c", command], capture_output=True, text=True, timeout=900
    )
    assert verdict.exists(), f"no verdict (exit {run.returncode}):\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    facts = json.loads(verdict.read_text())
    assert facts["gimp"] == "3.0.4"
    broken = {
        name: check["exception"] for name, check in facts.items() if isinstance(check, dict) and "exception" in check
    }
    assert not broken, broken
    return facts


@pytest.fixture(scope="module")
def console(daemon: Daemon) -> dict[str, Any]:
    return run_suite("console", daemon.endpoint)


@pytest.fixture(scope="module")
def guides(daemon: Daemon) -> dict[str, Any]:
    return run_suite("guides", daemon.endpoint)


@pytest.fixture(scope="module")
def gui(daemon: Daemon) -> dict[str, Any]:
    return run_suite("gui", daemon.endpoint, gui=True)


@pytest.fixture(scope="module")
def offline(installed: Path) -> dict[str, Any]:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return run_suite("offline", f"127.0.0.1:{port}")


def candidate_layers(check: dict[str, Any]) -> list[dict[str, Any]]:
    return [layer for layer in check["layers"] if layer["name"].startswith("cocreate ")]


def turn_of(daemon: Daemon, check: dict[str, Any]) -> tuple[pb.Turn, dict[str, Any]]:
    """The daemon's record of the turn that made a check's first candidate layer, and its params."""
    turn_id = candidate_layers(check)[0]["tag"]["turn"]
    with CocreateClient(daemon.endpoint, token=TOKEN) as client:
        for session in client.list_sessions(host="gimp"):
            for turn in client.get_session(session.id).turns:
                if turn.id == turn_id:
                    return turn, json.loads(turn.params_json)
    raise AssertionError(f"the daemon has no turn {turn_id}")


# ---------------------------------------------------------------- install and build


def test_install_puts_an_executable_plug_in_into_the_profile(installed: Path) -> None:
    assert installed == PROFILE / "plug-ins" / "cocreate"
    entry = installed / "cocreate.py"
    assert entry.stat().st_mode & stat.S_IXUSR
    assert (installed / "cocreate_gimp" / "document.py").exists()
    assert (installed / "cocreate_client" / "_vendor" / "grpclib").is_dir()


def test_build_makes_a_zip_to_unpack_into_the_plug_ins_folder(installed: Path) -> None:
    run = cocreate("plugins", "build", "gimp", "--out", str(WORK / "dist"))
    assert run.returncode == 0, run.stdout + run.stderr
    with zipfile.ZipFile(WORK / "dist" / "cocreate-gimp.zip") as archive:
        names = set(archive.namelist())
        mode = archive.getinfo("cocreate/cocreate.py").external_attr >> 16
    assert {"cocreate/cocreate.py", "cocreate/cocreate_gimp/plans.py", "cocreate/cocreate_client/jobs.py"} <= names
    assert mode & stat.S_IXUSR
    assert not [name for name in names if "__pycache__" in name]


# ---------------------------------------------------------------- batch mode (gimp-console, through the PDB)


def test_expand_grows_the_canvas_and_keeps_the_old_pixels_exact(console: dict[str, Any]) -> None:
    expand = console["expand_rgb"]
    assert expand["status"] == "SUCCESS" and expand["layers_returned"] == 2
    assert expand["size"] == [96 + 32, 64 + 16]
    layers = candidate_layers(expand)
    assert [layer["name"] for layer in layers] == ["cocreate expand 1/2 · seed 7", "cocreate expand 2/2 · seed 8"]
    assert [layer["visible"] for layer in layers] == [True, False]
    # The old layers moved with the canvas, untouched; the picture beyond the seam looks exactly as before.
    old = {layer["name"]: layer["offsets"] for layer in expand["layers"] if layer not in layers}
    assert old == {"overlay": [20, 26], "background": [0, 16]}
    assert expand["background_identical"] and expand["overlay_identical"]
    assert expand["visible_interior_identical"] and expand["new_area_opaque"]


def test_fill_changes_pixels_only_inside_the_selection(console: dict[str, Any]) -> None:
    fill = console["fill"]
    assert fill["status"] == "SUCCESS" and fill["layers_returned"] == 2 and fill["size"] == [96, 64]
    assert fill["soft_values"] > 0  # the selection had a feathered edge
    assert fill["changed"] > 0 and fill["changed_outside_selection"] == 0
    assert fill["background_identical"]
    # The candidate layers hold the selection's bounding box only.
    assert all(layer["size"][0] < 96 and layer["size"][1] < 64 for layer in candidate_layers(fill))


def test_variants_of_a_layer_sit_above_it_with_its_shape(console: dict[str, Any]) -> None:
    variants = console["variants_of_layer"]
    assert variants["status"] == "SUCCESS"
    assert variants["above_source"] and variants["same_place"] and variants["same_alpha"]


def test_a_grayscale_image_gets_grayscale_candidate_layers(console: dict[str, Any]) -> None:
    gray = console["grayscale"]
    assert gray["status"] == "SUCCESS" and gray["size"] == [80, 48]
    assert gray["base_gray"] and gray["old_identical"]
    assert [layer["gray"] for layer in candidate_layers(gray)] == [True]


def test_a_16_bit_image_keeps_its_precision_and_its_pixels(console: dict[str, Any]) -> None:
    deep = console["high_bit_depth"]
    assert deep["status"] == "SUCCESS"
    assert deep["size"] == [86, 48]  # 16:9 from 64×48, the picture anchored left
    assert deep["precision_kept"] and deep["old_identical_16bit"] and deep["old_offsets"] == [0, 0]
    assert [layer["bpp"] for layer in candidate_layers(deep)] == [8]  # RGBA, 16 bits a channel


def test_a_picture_wider_than_the_daemon_takes_still_expands(console: dict[str, Any]) -> None:
    wide = console["wider_than_the_daemon_takes"]
    assert wide["status"] == "SUCCESS" and wide["size"] == [9000 + 512, 1200] and wide["old_identical"]
    # The candidate holds the new strip and the 16 px seam; the daemon saw only a band of the picture.
    assert [(layer["offsets"], layer["size"]) for layer in candidate_layers(wide)] == [([9000 - 16, 0], [528, 1200])]


def test_keep_accepts_the_layer_s_candidate_rejects_its_siblings_and_removes_them(
    console: dict[str, Any], daemon: Daemon
) -> None:
    keep = console["keep_a_candidate"]
    assert keep["made"]["status"] == "SUCCESS" and keep["made"]["layers_returned"] == 3 and keep["saved"]
    # Every candidate layer carries its candidate and turn, and they survived saving and opening the XCF.
    tags = [layer["tag"] for layer in keep["before"][:3]]
    assert all(tag and len(tag["candidate"]) == 32 for tag in tags) and len({tag["turn"] for tag in tags}) == 1
    assert [layer["tag"] for layer in keep["before"][3:]] == [None, None]
    assert keep["status"] == "SUCCESS" and keep["layers_returned"] == 2
    # One candidate layer is left, the kept one (the second), now shown; the picture's own layers stay.
    left = candidate_layers(keep)
    assert [layer["name"] for layer in left] == ["cocreate expand 2/3 · seed 8"] and left[0]["visible"]
    assert keep["kept_tag"] == tags[1] and keep["kept_visible"]
    assert [layer["name"] for layer in keep["layers"]] == ["cocreate expand 2/3 · seed 8", "overlay", "background"]
    with CocreateClient(daemon.endpoint, token=TOKEN) as client:
        turns = [
            turn
            for session in client.list_sessions(host="gimp")
            for turn in client.get_session(session.id).turns
            if turn.id == tags[1]["turn"]
        ]
    assert len(turns) == 1
    decisions = {candidate.id: [f.decision for f in candidate.feedback] for candidate in turns[0].candidates}
    assert decisions == {
        tags[0]["candidate"]: [pb.REJECTED],
        tags[1]["candidate"]: [pb.ACCEPTED],
        tags[2]["candidate"]: [pb.REJECTED],
    }


def test_more_less_between_learn_my_style_and_a_personal_lora(console: dict[str, Any], daemon: Daemon) -> None:
    run = console["steer_learn_and_paint_with_a_lora"]
    for step in ("made", "kept", "more", "less", "between", "learned", "painted"):
        assert run[step]["status"] == "SUCCESS", (step, run[step])
    assert [run[step]["layers_returned"] for step in ("more", "less", "between")] == [2, 1, 1]
    assert run["learned"]["layers_returned"] == "gimp-style"  # the procedure returns the LoRA's name
    assert "exactly two candidate layers" in run["between_one"]["error"]
    assert "choose cocreate candidate layers" in run["more_of_no_candidate"]["error"]
    assert [name.split(" · ")[0] for name in run["order"]] == [
        "cocreate more like 1/2",
        "cocreate more like 2/2",
        "cocreate fill 2/3",
    ], "the new candidates sit above the one they follow, the first on top"
    kept = run["kept"]["tag"]["candidate"]
    more, less, between = run["more"]["tags"], run["less"]["tags"][0], run["between"]["tags"][0]
    with CocreateClient(daemon.endpoint, token=TOKEN) as client:
        models = {model.name: model for model in client.list_models()}
        turns = {
            turn.id: (turn, json.loads(turn.params_json))
            for session in client.list_sessions(host="gimp")
            for turn in client.get_session(session.id).turns
        }
    assert (models["gimp-style"].kind, models["gimp-style"].source) == ("lora", "personal")
    more_turn, more_params = turns[more[0]["turn"]]
    assert more_turn.parent_id == run["kept"]["tag"]["turn"] and more_params["feedback"]["liked"][-1] == kept
    assert turns[less["turn"]][1]["feedback"]["disliked"][-1] == more[0]["candidate"]
    between_params = turns[between["turn"]][1]
    assert between_params["interpolate"] == [tag["candidate"] for tag in more]
    assert between_params["candidates"] == 3  # the two ends and the one asked for; the ends get no layer
    assert turns[run["painted"]["tags"][0]["turn"]][1]["lora"]["name"] == "gimp-style"


# ---------------------------------------------------------------- another family, guide layers, Edit


def test_expand_with_a_tiny_flux2_klein_model(guides: dict[str, Any], daemon: Daemon) -> None:
    """#15: a family other than SD 1.5, picked by the Model setting, grows the canvas in the real GIMP."""
    run = guides["expand_with_flux2_klein"]
    assert run["status"] == "SUCCESS" and run["layers_returned"] == 2, run
    assert run["size"] == [96 + 32, 64 + 16] and run["old_identical"]
    assert len(candidate_layers(run)) == 2
    turn, _params = turn_of(daemon, run)
    assert (turn.task, turn.model, turn.status) == ("expand", "tiny-flux2-klein", "completed")


def test_fill_follows_a_control_layer_and_leaves_it_untouched(guides: dict[str, Any], daemon: Daemon) -> None:
    run = guides["fill_with_a_control_layer"]
    assert run["status"] == "SUCCESS" and run["layers_returned"] == 2, run
    assert run["guides_untouched"] and run["old_layers_kept"]
    _turn, params = turn_of(daemon, run)
    assert [control["kind"] for control in params["controls"]] == ["scribble"], params


def test_expand_reads_the_control_layer_over_the_grown_canvas(guides: dict[str, Any], daemon: Daemon) -> None:
    run = guides["expand_with_a_control_layer"]
    assert run["status"] == "SUCCESS" and run["size"] == [96 + 24, 64], run
    assert run["guides_untouched"] and run["old_layers_kept"]
    _turn, params = turn_of(daemon, run)
    assert [control["kind"] for control in params["controls"]] == ["line_art"], params


def test_fill_takes_after_a_style_reference_layer(guides: dict[str, Any], daemon: Daemon) -> None:
    run = guides["fill_with_a_style_reference"]
    assert run["status"] == "SUCCESS" and run["guides_untouched"], run
    _turn, params = turn_of(daemon, run)
    assert len(params["references"]) == 1, params


@pytest.mark.parametrize(
    ("check", "model"),
    [("edit_a_selection", "tiny-flux2-klein"), ("edit_a_selection_with_qwen_image_edit", "tiny-qwen-image-edit")],
)
def test_edit_changes_the_selection_as_the_instruction_says(
    guides: dict[str, Any], daemon: Daemon, check: str, model: str
) -> None:
    run = guides[check]
    assert run["status"] == "SUCCESS" and run["layers_returned"] == 1, run
    assert run["guides_untouched"] and run["old_layers_kept"]
    [layer] = candidate_layers(run)
    assert layer["name"].startswith("cocreate edit 1/1")
    turn, params = turn_of(daemon, run)
    assert (turn.task, turn.model) == ("edit", model) and params["instruction"] == "make it night"


# ---------------------------------------------------------------- a person at the keyboard (full GIMP, Xvfb)


def test_one_undo_restores_the_image(gui: dict[str, Any]) -> None:
    undo = gui["undo"]
    assert undo["status"] == "SUCCESS" and undo["grown"] == {"size": [120, 72], "layer_count": 5}
    assert undo["size_after_undo"] == [96, 64]
    assert undo["layers_restored"] and undo["visible_restored"] and undo["background_restored"]


def test_keeping_a_candidate_is_one_undo_step(gui: dict[str, Any]) -> None:
    keep = gui["keep_then_undo"]
    assert keep["made"]["status"] == "SUCCESS" and keep["status"] == "SUCCESS" and keep["layers_returned"] == 2
    assert keep["kept"] == ["cocreate expand 2/3 · seed 8", "overlay", "background"]
    assert keep["restored"]  # the three candidate layers are back, the second hidden again


def test_the_dialog_runs_the_procedure_with_a_progress_window(gui: dict[str, Any]) -> None:
    run = gui["dialog_ok"]
    assert run["dialog"] and run["progress_window"] and run["progress_closed"]
    assert run["size"] == [96 + 32, 64]  # the settings the dialog opened with: 32 px on the right, 2 candidates
    assert len(candidate_layers(run)) == 2


def test_escape_in_the_progress_window_cancels_the_job(gui: dict[str, Any], daemon: Daemon) -> None:
    run = gui["dialog_cancel"]
    assert run["dialog"] and run["progress_window"] and run["escape_while_running"] and run["progress_closed"]
    assert run["unchanged"]
    with CocreateClient(daemon.endpoint, token=TOKEN) as client:
        statuses = [
            turn.status
            for session in client.list_sessions(host="gimp")
            for turn in client.get_session(session.id).turns
        ]
    assert "cancelled" in statuses  # the daemon stopped the job, not just the plug-in


@pytest.mark.screenshot
def test_screenshot_of_the_dialog_over_candidates(daemon: Daemon) -> None:
    """docs/screenshots/gimp.png: `make screenshots` regenerates it."""
    shot = run_suite("screenshot", daemon.endpoint, gui=True)["screenshot"]
    assert shot["made"]["status"] == "SUCCESS" and shot["dialog"] and shot["saved"], shot
    keep_screenshot(WORK / "screenshot-gimp.png", "gimp")


# ---------------------------------------------------------------- clear messages


def test_no_daemon_gives_a_clear_message_and_leaves_the_image_alone(offline: dict[str, Any]) -> None:
    down = offline["daemon_down"]
    assert down["status"] == "EXECUTION-ERROR" and down["unchanged"] and down["size"] == [96, 64]
    assert "not reachable" in down["error"] and "cocreate serve" in down["error"]


def test_indexed_images_are_refused_with_how_to_convert_them(offline: dict[str, Any]) -> None:
    indexed = offline["indexed"]
    assert indexed["status"] == "EXECUTION-ERROR" and "Image ▸ Mode ▸ RGB" in indexed["error"]


def test_fill_without_a_selection_says_what_to_do(offline: dict[str, Any]) -> None:
    assert "select the area first" in offline["fill_without_selection"]["error"]


def test_nothing_to_expand_says_what_to_do(offline: dict[str, Any]) -> None:
    assert "Nothing to expand" in offline["nothing_to_expand"]["error"]


def test_keep_on_a_layer_that_is_no_candidate_says_what_to_choose(offline: dict[str, Any]) -> None:
    other = offline["keep_a_layer_that_is_no_candidate"]
    assert other["status"] == "EXECUTION-ERROR" and other["unchanged"]
    assert "choose a cocreate candidate layer" in other["error"]


def test_keep_without_a_daemon_leaves_the_image_alone_and_says_how_to_start_it(offline: dict[str, Any]) -> None:
    down = offline["keep_with_the_daemon_down"]
    assert down["status"] == "EXECUTION-ERROR" and down["unchanged"]
    assert "not reachable" in down["error"] and "cocreate serve" in down["error"]
