"""`cocreate demo`: a daemon on the tiny profile, driven end to end through the plugin client.

It starts its own daemon on a private socket (home: <data dir>/demo, so a running daemon and
its sessions are left alone), inpaints a picture with 3 candidates showing step previews,
continues a sentence with 3 candidates streamed side by side, records a decision, and writes
everything to a folder.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from cocreate_client import CandidateReady, CocreateClient, Done, Failed, Image, Job, Mask, Progress, TextDelta
from cocreate_client import tasks as requests
from PIL import Image as PILImage
from PIL import ImageDraw
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as Bar
from rich.table import Table

from . import config
from .launcher import LaunchError, launch

console = Console()
SIDE = 128
OPENING = "The painter stepped back from the canvas and"


def run_demo(out: Path, family: str = "sd15") -> int:
    from .engines.families import FAMILIES
    from .models.tiny import tiny_name

    if family not in FAMILIES:
        console.print(f"[red]no image model family {family!r}; cocreate knows {', '.join(FAMILIES)}[/red]")
        return 2
    model = tiny_name(FAMILIES[family])
    out.mkdir(parents=True, exist_ok=True)
    home = config.data_dir() / "demo"
    socket_path = Path(tempfile.mkdtemp(prefix="cocreate-demo-")) / "demo.sock"
    with console.status("starting the daemon (the first run creates the tiny models)…"):
        try:
            daemon = launch(["--socket", str(socket_path)], dict(os.environ, COCREATE_HOME=str(home)))
        except LaunchError as error:
            console.print(f"[red]the demo daemon did not start[/red]\n{error}")
            return 1
    console.print(f"daemon on the tiny profile at {daemon.endpoint} (home {home})")
    try:
        with CocreateClient(daemon.endpoint) as client:
            session = client.create_session("cli", "cocreate-demo", "cocreate demo")
            candidate_id = _inpaint(client, session.id, out, model)
            client.feedback(candidate_id, "accepted")
            _continue_text(client, session.id, out)
            size = client.export_session(session.id, out / "session.zip")
    finally:
        daemon.stop()
    console.print(f"\nsession {session.id}: exported with every candidate to {out / 'session.zip'} ({size} bytes)")
    console.print(f"[bold green]outputs written to {out.resolve()}[/bold green]")
    return 0


def _picture() -> tuple[Image, Mask]:
    """A small landscape, and a soft round selection over its sun."""
    picture = PILImage.new("RGBA", (SIDE, SIDE))
    draw = ImageDraw.Draw(picture)
    for y in range(SIDE):
        sky = (90 + y, 140 + y // 2, 230, 255) if y < SIDE * 0.65 else (60, 120 - y // 4, 50, 255)
        draw.line([(0, y), (SIDE, y)], fill=sky)
    draw.ellipse((70, 18, 104, 52), fill=(250, 210, 80, 255))
    selection = PILImage.new("L", (SIDE, SIDE))
    ImageDraw.Draw(selection).ellipse((60, 8, 114, 62), fill=255)
    return Image(SIDE, SIDE, picture.tobytes()), Mask(SIDE, SIDE, selection.tobytes())


def _save(image: Image, path: Path) -> None:
    PILImage.frombytes("RGBA", (image.width, image.height), image.rgba).save(path)


def _drain(job: Job, handle: object) -> None:
    """Hand every event to `handle` until Done or Failed, as a host's main thread would."""
    while True:
        for event in job.poll():
            handle(event)  # type: ignore[operator]
            if isinstance(event, Failed):
                raise SystemExit(f"the job failed: {event.code}: {event.message}")
            if isinstance(event, Done):
                return
        time.sleep(0.01)


def _inpaint(client: CocreateClient, session_id: str, out: Path, model: str) -> str:
    image, mask = _picture()
    _save(image, out / "input.png")
    PILImage.frombytes("L", (SIDE, SIDE), mask.alpha).save(out / "mask.png")
    request = requests.inpaint(
        image,
        mask=mask,
        session_id=session_id,
        prompt="a red apple",
        candidates=3,
        steps=8,
        seed=42,
        previews=True,
        model=model,
    )
    started = time.perf_counter()
    previews: list[Image] = []
    candidates: list[CandidateReady] = []
    with Bar(
        TextColumn("inpaint, 3 candidates"),
        BarColumn(),
        TextColumn("step {task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        progress = bar.add_task("inpaint", total=8)

        def handle(event: object) -> None:
            if isinstance(event, Progress):
                bar.update(progress, completed=event.step, total=event.total)
                previews[:] = event.previews
            elif isinstance(event, CandidateReady):
                candidates.append(event)

        _drain(client.generate(request), handle)
    elapsed = time.perf_counter() - started
    for i, preview in enumerate(previews):
        _save(preview, out / f"inpaint-preview-{i}.png")
    for c in candidates:
        assert c.image is not None
        _save(c.image, out / f"inpaint-candidate-{c.index}.png")
    seeds = ", ".join(str(c.seed) for c in candidates)
    console.print(
        f"inpaint: {len(candidates)} candidates (seeds {seeds}) in {elapsed:.2f} s; previews and candidates in {out}"
    )
    return candidates[0].candidate_id


def _continue_text(client: CocreateClient, session_id: str, out: Path) -> None:
    request = requests.continue_text(
        OPENING, session_id=session_id, candidates=3, max_new_tokens=24, seed=7, model="tiny-text"
    )
    texts = ["", "", ""]

    def table() -> Table:
        grid = Table(title=f"continue_text: «{OPENING} …»", expand=True)
        for i in range(3):
            grid.add_column(f"candidate {i}", ratio=1)
        grid.add_row(*(repr(t)[1:-1] for t in texts))
        return grid

    started = time.perf_counter()
    with Live(table(), console=console, refresh_per_second=20) as live:

        def handle(event: object) -> None:
            if isinstance(event, TextDelta):
                texts[event.index] += event.text
                live.update(table())

        _drain(client.generate(request), handle)
    console.print()
    for i, text in enumerate(texts):
        (out / f"continuation-{i}.txt").write_text(OPENING + text)
    console.print(
        f"continue_text: 3 candidates streamed in {time.perf_counter() - started:.2f} s (tiny model: gibberish)"
    )
