"""Exports are verified before they are written, and predict like PyTorch from the exported file."""
from pathlib import Path

import numpy as np
import pytest
import torch

from hpe_utils import export as export_mod
from hpe_utils.cli import main
from hpe_utils.files import shipped_images
from hpe_utils.formats import export_program
from hpe_utils.predictor import Predictor
from hpe_utils.weights import load_weights

pytest.importorskip("onnxruntime")

REPO = Path(__file__).resolve().parent.parent
MESSI = REPO / "data" / "messi_kick.webp"
DEFAULT = REPO / "weights" / "hpe_default.pt"


@pytest.fixture(scope="module")
def ckpt():
    """The embedded default weights: parity means something only for a trained model (a random one's heatmaps
    are flat, so its argmax is noise)."""
    if not DEFAULT.exists():
        pytest.skip("needs the embedded default weights weights/hpe_default.pt")
    return DEFAULT


@pytest.fixture(scope="module")
def exported(ckpt, tmp_path_factory):
    out = tmp_path_factory.mktemp("exp")
    images = shipped_images()
    paths, reports = {}, {}
    for fmt, name in (("torchscript", "m.torchscript"), ("onnx", "m.onnx"), ("onnx-int8", "m_int8.onnx")):
        paths[fmt] = out / name
        reports[fmt] = export_mod.export(ckpt, fmt, paths[fmt], images, log=lambda _m: None)
    return paths, reports


def test_every_format_passes_its_parity_check(exported):
    _, reports = exported
    assert reports["torchscript"].max_abs_diff < 1e-4 and reports["torchscript"].moved_share == 0
    assert reports["onnx"].max_abs_diff < 1e-3 and reports["onnx"].moved_share == 0
    assert reports["onnx-int8"].ok and reports["onnx-int8"].joints > 100
    assert "PASS" in str(reports["onnx"])


def test_exported_files_predict_the_messi_image_like_pytorch(ckpt, exported):
    paths, _ = exported
    torch_pred = Predictor(ckpt)
    ref = torch_pred(MESSI).people[0].keypoints
    heat_px = 912 * torch_pred.box_padding / torch_pred.codec.heatmap_size[0]  # image pixels per heatmap pixel
    for fmt in ("torchscript", "onnx"):
        p = Predictor(paths[fmt])
        assert p.backend.name == fmt and p.skeleton.name == "mpii16"
        assert p.box_padding == torch_pred.box_padding  # the crop context travels with the file
        assert np.abs(p(MESSI).people[0].keypoints - ref).max() <= 1.0, fmt
    int8 = Predictor(paths["onnx-int8"])
    assert int8.backend.name == "onnx-int8"
    moved = np.linalg.norm(int8(MESSI).people[0].keypoints - ref, axis=1) > heat_px
    assert moved.mean() <= 0.25


def test_a_failed_parity_check_writes_nothing(ckpt, tmp_path, monkeypatch):
    strict = export_mod.ExportFormat("onnx-int8", ".onnx", 0.0, 0.0, "no tolerance at all")
    monkeypatch.setitem(export_mod.EXPORT_FORMATS, "onnx-int8", strict)
    out = tmp_path / "bad.onnx"
    with pytest.raises(RuntimeError, match="not written"):
        export_mod.export(ckpt, "onnx-int8", out, [str(MESSI)], log=lambda _m: None)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_cli_export_refuses_to_overwrite_and_rejects_bad_formats(ckpt, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    out.write_text("user file")
    assert main(["export", "--format", "onnx", "--weights", str(ckpt), "--out", str(out), "-q"]) == 2
    assert out.read_text() == "user file" and "--overwrite" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export", "--format", "tflite", "--out", str(out)])


def test_torch_export_program_runs_with_dynamic_batch(ckpt):
    model = load_weights(ckpt).model
    prog = export_program(model, torch.randn(1, 3, 128, 128))
    x = torch.randn(3, 3, 128, 128)
    with torch.no_grad():
        assert torch.allclose(prog.module()(x), model(x), atol=1e-4)


def test_an_exported_file_refuses_a_foreign_backend(ckpt, tmp_path):
    out = tmp_path / "m.onnx"
    export_mod.export(ckpt, "onnx", out, [str(MESSI)], log=lambda _m: None)
    assert Predictor(out, backend="auto").backend.name == "onnx"
    with pytest.raises(ValueError, match="runs with backend onnx"):
        Predictor(out, backend="torch")
