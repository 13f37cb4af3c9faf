"""Single-file transformer checkpoints of the flow families: each layout recognised and loaded offline.

The tiny profile's transformers are saved in the diffusers layout, behind ComfyUI's prefix, as a Q8_0 GGUF
and (Z-Image, Flux.1) in its original layout; Flux.2's BFL names and Flux.1's real-width variants are
checked on shape tables.
"""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import pytest
import torch
from safetensors.torch import load_file, save_file

from core_server.models import CatalogError, ModelCatalog, tiny_flow
from core_server.models.flow_checkpoints import (
    COMFY_PREFIX,
    UnknownCheckpoint,
    describe_unknown,
    detect,
    load_transformer,
    tensor_shapes,
)
from core_server.tasks import CancelToken, InpaintTask
from tests.engines.support import disc_mask, load_on_cpu, random_image
from tests.support.original_checkpoints import flux_bfl

EXPECTED = {
    tiny_flow.TINY_FLUX: ("flux", "dev"),
    tiny_flow.TINY_FLUX_FILL: ("flux-fill", "fill"),
    tiny_flow.TINY_FLUX2_KLEIN: ("flux2-klein", "flux2-klein"),
    tiny_flow.TINY_Z_IMAGE: ("z-image", "z-image"),
    tiny_flow.TINY_QWEN_IMAGE: ("qwen-image", "qwen-image"),
    tiny_flow.TINY_CHROMA: ("chroma", "chroma"),
}


@pytest.fixture(scope="module")
def transformers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{tiny model: its transformer's weights file}, each family built once."""
    root = tmp_path_factory.mktemp("flow")
    files = {}
    for name, build in tiny_flow.builders().items():
        build(root / name)
        files[name] = next((root / name / "transformer").glob("*.safetensors"))
    return files


def write_gguf(state: dict[str, torch.Tensor], path: Path) -> None:
    """Linear weights whose rows split into 32-value blocks as Q8_0, the rest (norms, biases, pad tokens) as
    float32, as GGUF converters do."""
    writer = gguf.GGUFWriter(path, arch="test")
    for name, tensor in state.items():
        values = tensor.float().numpy()
        if name.endswith(".weight") and values.ndim == 2 and values.shape[1] % 32 == 0:
            packed = gguf.quants.quantize(values, gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(name, packed, raw_shape=packed.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(name, values)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def config_of(weights: Path) -> dict:
    return json.loads((weights.parent / "config.json").read_text())


@pytest.mark.parametrize("name", list(EXPECTED))
def test_diffusers_layout_is_recognised_with_its_config(transformers: dict[str, Path], name: str) -> None:
    checkpoint = detect(tensor_shapes(transformers[name]))
    assert checkpoint is not None
    assert (checkpoint.family, checkpoint.variant, checkpoint.layout) == (*EXPECTED[name], "diffusers")
    saved = config_of(transformers[name])
    for key, value in checkpoint.config.items():
        # RoPE table lengths are not weights (real ones are used); a saved None means "as in_channels"
        if saved.get(key) is not None and key != "axes_lens":
            assert list(value) == saved[key] if isinstance(value, tuple) else value == saved[key], key


@pytest.mark.parametrize("name", list(EXPECTED))
def test_comfyui_prefixed_and_gguf_files_load_offline(transformers: dict[str, Path], name: str, tmp_path: Path) -> None:
    state = load_file(transformers[name])
    comfy = tmp_path / "comfy.safetensors"
    save_file({COMFY_PREFIX + key: tensor for key, tensor in state.items()}, comfy)
    quantized = tmp_path / "model.gguf"
    write_gguf(state, quantized)

    checkpoint = detect(tensor_shapes(comfy))
    assert checkpoint is not None and checkpoint.layout == "comfyui"
    model = load_transformer(comfy, checkpoint, torch.float32, tmp_path / "comfy-config")
    assert all(torch.equal(model.state_dict()[key], tensor) for key, tensor in state.items())

    checkpoint = detect(tensor_shapes(quantized), gguf=True)
    assert checkpoint is not None and (checkpoint.family, checkpoint.gguf) == (EXPECTED[name][0], True)
    model = load_transformer(quantized, checkpoint, torch.float32, tmp_path / "gguf-config")
    kinds = {type(parameter).__name__ for parameter in model.parameters()}
    assert "GGUFParameter" in kinds  # kept quantized, dequantized as each layer runs


def test_z_image_original_layout_loads(transformers: dict[str, Path], tmp_path: Path) -> None:
    state = load_file(transformers[tiny_flow.TINY_Z_IMAGE])
    original = {}
    for key, tensor in state.items():
        if ".attention.to_k." in key or ".attention.to_v." in key:
            continue
        if ".attention.to_q." in key:
            parts = [state[key.replace("to_q", which)] for which in ("to_q", "to_k", "to_v")]
            original[key.replace("to_q", "qkv")] = torch.cat(parts)
            continue
        renamed = (
            key.replace("all_final_layer.2-1.", "final_layer.")
            .replace("all_x_embedder.2-1.", "x_embedder.")
            .replace(".attention.to_out.0.", ".attention.out.")
            .replace(".attention.norm_q.", ".attention.q_norm.")
            .replace(".attention.norm_k.", ".attention.k_norm.")
        )
        original[renamed] = tensor
    path = tmp_path / "z_image_turbo.safetensors"
    save_file(original, path)
    checkpoint = detect(tensor_shapes(path))
    assert checkpoint is not None and (checkpoint.family, checkpoint.layout) == ("z-image", "bfl")
    model = load_transformer(path, checkpoint, torch.float32, tmp_path / "config")
    assert all(torch.equal(model.state_dict()[key], tensor) for key, tensor in state.items())


@pytest.mark.parametrize("prefix", ["", COMFY_PREFIX])
def test_a_narrow_flux_in_bfl_names_loads_with_every_weight_in_place(
    transformers: dict[str, Path], tmp_path: Path, prefix: str
) -> None:
    """diffusers' converter cuts the fused single-block projection at the real width; ours at the file's."""
    state = load_file(transformers[tiny_flow.TINY_FLUX])
    path = tmp_path / "flux-bfl.safetensors"
    save_file({prefix + key: tensor for key, tensor in flux_bfl(state).items()}, path)
    checkpoint = detect(tensor_shapes(path))
    assert checkpoint is not None and (checkpoint.family, checkpoint.layout) == ("flux", "comfyui" if prefix else "bfl")
    model = load_transformer(path, checkpoint, torch.float32, tmp_path / "config")
    assert model.state_dict().keys() == state.keys()
    assert all(torch.equal(model.state_dict()[key], tensor) for key, tensor in state.items())


def flux_bfl_shapes(*, in_channels: int, guidance: bool, hidden: int = 3072, head: int = 128) -> dict:
    """The tensor names and shapes of a Black Forest Labs Flux.1 file (two blocks of each kind)."""
    mlp = 4 * hidden
    shapes = {
        "img_in.weight": (hidden, in_channels),
        "txt_in.weight": (hidden, 4096),
        "time_in.in_layer.weight": (hidden, 256),
        "vector_in.in_layer.weight": (hidden, 768),
        "final_layer.linear.weight": (64, hidden),
        "final_layer.adaLN_modulation.1.weight": (2 * hidden, hidden),
    }
    if guidance:
        shapes["guidance_in.in_layer.weight"] = (hidden, 256)
    for block in range(2):
        for stream in ("img", "txt"):
            shapes[f"double_blocks.{block}.{stream}_attn.qkv.weight"] = (3 * hidden, hidden)
            shapes[f"double_blocks.{block}.{stream}_attn.norm.query_norm.scale"] = (head,)
            shapes[f"double_blocks.{block}.{stream}_attn.norm.key_norm.scale"] = (head,)
            shapes[f"double_blocks.{block}.{stream}_mlp.0.weight"] = (mlp, hidden)
        shapes[f"single_blocks.{block}.linear1.weight"] = (3 * hidden + mlp, hidden)
        shapes[f"single_blocks.{block}.norm.query_norm.scale"] = (head,)
    return shapes


@pytest.mark.parametrize(
    ("in_channels", "guidance", "variant"),
    [(64, True, "dev"), (64, False, "schnell"), (384, True, "fill"), (128, True, None)],
)
def test_flux_bfl_variants(in_channels: int, guidance: bool, variant: str | None) -> None:
    shapes = flux_bfl_shapes(in_channels=in_channels, guidance=guidance)
    checkpoint = detect(shapes)
    if variant is None:  # Depth/Canny control models are refused: nothing here makes their control image
        assert checkpoint is None
        return
    assert checkpoint is not None
    family = "flux-fill" if variant == "fill" else "flux"
    assert (checkpoint.family, checkpoint.variant, checkpoint.layout) == (family, variant, "bfl")
    assert checkpoint.config["num_attention_heads"] == 24
    assert checkpoint.config["axes_dims_rope"] == (16, 56, 56)
    assert (checkpoint.config["num_layers"], checkpoint.config["num_single_layers"]) == (2, 2)
    prefixed = detect({COMFY_PREFIX + key: shape for key, shape in shapes.items()})
    assert prefixed is not None and prefixed.layout == "comfyui" and prefixed.variant == variant


def test_flux2_bfl_names_are_recognised() -> None:
    shapes = {
        "img_in.weight": (3072, 128),
        "txt_in.weight": (3072, 7680),
        "time_in.in_layer.weight": (3072, 256),
        "final_layer.linear.weight": (128, 3072),
        "double_stream_modulation_img.lin.weight": (18432, 3072),
        "single_stream_modulation.lin.weight": (9216, 3072),
        "double_blocks.0.img_attn.norm.query_norm.scale": (128,),
        "double_blocks.0.img_attn.norm.key_norm.scale": (128,),
        **{f"double_blocks.{n}.img_attn.qkv.weight": (9216, 3072) for n in range(5)},
        **{f"single_blocks.{n}.linear1.weight": (27648, 3072) for n in range(20)},
    }
    checkpoint = detect(shapes)
    assert checkpoint is not None
    assert (checkpoint.family, checkpoint.variant, checkpoint.layout) == ("flux2-klein", "flux2-klein", "bfl")
    config = checkpoint.config
    assert (config["num_layers"], config["num_single_layers"], config["num_attention_heads"]) == (5, 20, 24)
    assert config["joint_attention_dim"] == 7680 and config["guidance_embeds"] is False


def test_unknown_layout_is_described() -> None:
    shapes = {"encoder.conv_in.weight": (128, 3, 3, 3), "decoder.conv_out.weight": (3, 128, 3, 3)}
    assert detect(shapes) is None
    assert describe_unknown(shapes) == "2 tensors under decoder, encoder"


@pytest.mark.parametrize("content", [b"", b"\x08\x00\x00\x00\x00\x00\x00\x00not json", b"\xff" * 16])
def test_corrupt_file_is_refused_clearly(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.safetensors"
    path.write_bytes(content)
    with pytest.raises(UnknownCheckpoint, match=r"broken\.safetensors"):
        tensor_shapes(path)


@pytest.mark.parametrize(
    ("model", "layout"),
    [(tiny_flow.TINY_FLUX, "comfyui"), (tiny_flow.TINY_Z_IMAGE, "gguf"), ("tiny-flux2-dev", "comfyui")],
)
def test_models_add_takes_the_other_parts_from_a_model_of_the_family_and_paints(
    catalog: ModelCatalog, model: str, layout: str, tmp_path: Path
) -> None:
    base = catalog.resolve(model, "image")
    state = load_file(next((base.path / "transformer").glob("*.safetensors")))
    if layout == "gguf":
        path = tmp_path / "transformer-Q8_0.gguf"
        write_gguf(state, path)
    else:
        path = tmp_path / "transformer.safetensors"
        save_file({COMFY_PREFIX + key: tensor for key, tensor in state.items()}, path)
    entry = catalog.add(f"single-{model}", path)
    try:
        assert (entry.family, entry.config) == (base.family, base.path)
        engine = load_on_cpu(entry)
        try:
            task = InpaintTask(image=random_image(64, 64), mask=disc_mask(64, 64, 32, 32, 16), prompt="moss", steps=2)
            result = engine.run(task, [1], previews=False, emit=lambda event: None, cancel=CancelToken())
            assert result.images[0].width == 64
        finally:
            engine.close()
    finally:
        catalog.remove(entry.name)


def test_a_lone_transformer_without_a_model_of_its_family_is_refused(tmp_path: Path) -> None:
    shapes_only = tmp_path / "flux1-dev.safetensors"
    save_file(
        {
            key: torch.zeros(shape)
            for key, shape in flux_bfl_shapes(in_channels=64, guidance=True, hidden=32, head=16).items()
        },
        shapes_only,
    )
    empty = ModelCatalog(tmp_path / "models")
    with pytest.raises(CatalogError, match=r"Flux\.1 dev transformer .*alone.*models pull"):
        empty._flow_base({"models": {}}, shapes_only, detect(tensor_shapes(shapes_only)), None)
