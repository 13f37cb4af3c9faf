"""Control models in the catalog (a ControlNet folder recognised by its config, its family and kinds
recorded, the one for a family and kind found) and control maps made without weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core_server.engines import depth_estimation
from core_server.engines.control_maps import control_map, layer_strokes
from core_server.models import ModelCatalog, depth_estimators
from core_server.models.catalog import CONTROL, ESTIMATOR, CatalogError
from core_server.models.control_pulls import pull_hint
from core_server.models.pulls import resolve
from core_server.tasks import ControlKind, EngineError


@pytest.fixture
def fresh(catalog: ModelCatalog, tmp_path: Path) -> ModelCatalog:
    shutil.copytree(catalog.models_dir, tmp_path / "models")
    return ModelCatalog(tmp_path / "models")


def copy_of(catalog: ModelCatalog, name: str, folder: Path) -> Path:
    shutil.copytree(catalog.resolve(name, CONTROL).path, folder)
    return folder


def test_the_tiny_controls_serve_every_kind_of_their_family(catalog: ModelCatalog) -> None:
    sd15 = catalog.control_for("sd15", "depth")
    assert sd15 is not None and (sd15.name, sd15.family, sd15.union) == ("tiny-control-sd15", "sd15", False)
    sdxl = catalog.control_for("sdxl", "scribble")
    assert sdxl is not None and (sdxl.name, sdxl.union) == ("tiny-control-sdxl", True)
    flux = catalog.control_for("flux", "depth")
    assert flux is not None and (flux.name, flux.union) == ("tiny-control-flux", True)
    assert catalog.control_for("flux", "normal") is None, "a Flux union model has no normal mode"


def test_add_recognises_a_controlnet_folder_by_its_config(fresh: ModelCatalog, tmp_path: Path) -> None:
    named = fresh.add("my-depth", copy_of(fresh, "tiny-control-sd15", tmp_path / "control_v11f1p_sd15_depth"))
    assert (named.kind, named.family, named.controls) == (CONTROL, "sd15", ("depth",))
    assert fresh.control_for("sd15", "depth") == fresh.resolve("my-depth", CONTROL), "what the user added comes first"
    told = fresh.add("mine", copy_of(fresh, "tiny-control-sd15", tmp_path / "anon"), controls=["pose", "canny"])
    assert told.controls == ("pose", "canny")
    union = fresh.add("u", copy_of(fresh, "tiny-control-sdxl", tmp_path / "union"))
    assert (union.family, union.union) == ("sdxl", True) and "depth" in union.controls


def test_add_says_what_it_needs(fresh: ModelCatalog, tmp_path: Path) -> None:
    anonymous = copy_of(fresh, "tiny-control-sd15", tmp_path / "anon")
    with pytest.raises(CatalogError, match="--control KIND"):
        fresh.add("anon", anonymous)
    with pytest.raises(CatalogError, match="unknown control kind sketchy"):
        fresh.add("anon", anonymous, controls=["sketchy"])
    config = json.loads((anonymous / "config.json").read_text())
    (anonymous / "config.json").write_text(json.dumps({**config, "_class_name": "SanaControlNetModel"}))
    with pytest.raises(CatalogError):
        fresh.add("anon", anonymous, controls=["depth"])


def test_short_names_and_hints() -> None:
    assert resolve("sd15-depth") == ("lllyasviel/control_v11f1p_sd15_depth", "sd15-depth")
    assert resolve("sdxl-union")[0] == "xinsir/controlnet-union-sdxl-1.0"
    assert "cocreate models pull flux-union" in pull_hint("flux", "depth")
    assert "--control normal" in pull_hint("flux", "normal")


def rgba(gray: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray:
    out = np.repeat(gray[..., None], 4, axis=-1).astype(np.uint8)
    out[..., 3] = 255 if alpha is None else alpha
    return out


def test_a_layer_becomes_white_strokes_on_black() -> None:
    strokes = np.zeros((8, 8), np.uint8)
    strokes[:, 2] = 255
    dark_on_white = rgba(255 - strokes)
    on_clear_layer = rgba(np.full((8, 8), 40, np.uint8), alpha=strokes)
    assert (layer_strokes(dark_on_white) == strokes).all()
    assert (layer_strokes(on_clear_layer) == strokes).all()
    assert (layer_strokes(rgba(strokes)) == strokes).all(), "a map already white on black stays"
    assert control_map(ControlKind.SCRIBBLE, dark_on_white, derive=False).shape == (8, 8, 3)


def test_derived_maps_find_the_edges_of_a_picture() -> None:
    picture = np.full((32, 32), 230, np.uint8)
    picture[8:24, 8:24] = 20
    for kind in (ControlKind.CANNY, ControlKind.SCRIBBLE, ControlKind.LINE_ART, ControlKind.SOFT_EDGE):
        found = control_map(kind, rgba(picture), derive=True)[..., 0].astype(int)
        assert found[8, 8:24].mean() > found[16, 16] + 20, f"{kind.value}: the square's edge stands out"
    with pytest.raises(EngineError):
        control_map(ControlKind.DEPTH, rgba(picture), derive=True)
    depth = control_map(ControlKind.DEPTH, rgba(picture), derive=False)
    assert (depth[..., 0] == picture).all()


def test_a_depth_estimator_derives_maps_at_the_pictures_size(fresh: ModelCatalog, tmp_path: Path) -> None:
    depth_estimators.build_tiny(tmp_path / "estimator")
    assert fresh.depth_estimator() is None
    assert fresh.add("estimator", tmp_path / "estimator").kind == ESTIMATOR
    estimator = str(fresh.depth_estimator().path)  # type: ignore[union-attr]
    picture = rgba(np.tile(np.arange(0, 240, 8, dtype=np.uint8), (20, 1)))
    depth = depth_estimation.depth_map(estimator, picture)
    assert depth.shape == (20, 30) and depth.min() == 0.0 and depth.max() == 1.0
    assert control_map(ControlKind.DEPTH, picture, derive=True, estimator=estimator).shape == (20, 30, 3)
    assert control_map(ControlKind.NORMAL, picture, derive=True, estimator=estimator).shape == (20, 30, 3)
    flat = depth_estimation.normal_map(np.full((4, 4), 0.5, np.float32))
    assert (flat == [128, 128, 255]).all(), "a flat depth faces the viewer"
    assert resolve(depth_estimators.PULL_NAME) == (depth_estimators.REPO, depth_estimators.PULL_NAME)
