"""The hpe command: predict writes JSON and overlays, survives bad images, refuses random weights."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bad_images import bad_image_corpus
from hpe_utils.cli import main
from hpe_utils.model import PoseResNet
from hpe_utils.weights import WEIGHTS, save_checkpoint

REPO = Path(__file__).resolve().parent.parent
MESSI = REPO / "data" / "messi_kick.webp"


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    torch.manual_seed(0)
    m = PoseResNet(depth=18, num_joints=16, deconv_filters=(32, 32, 32))
    return str(save_checkpoint(m, tmp_path_factory.mktemp("w") / "tiny.pt", skeleton="mpii16", input_size=(64, 64)))


def test_predict_messi_writes_the_documented_json_and_an_overlay(ckpt, tmp_path):
    out_json, out_dir = tmp_path / "out.json", tmp_path / "vis"
    assert main(["predict", str(MESSI), "--weights", ckpt, "--json", str(out_json), "--out", str(out_dir), "-q"]) == 0
    rec = json.loads(out_json.read_text())
    assert isinstance(rec, list) and len(rec) == 1
    r = rec[0]
    assert r["image"] == str(MESSI) and (r["width"], r["height"]) == (912, 516)
    assert r["skeleton"] == "mpii16" and len(r["joints"]) == 16
    kps = np.array(r["people"][0]["keypoints"])
    assert kps.shape == (16, 3) and np.isfinite(kps).all()
    assert (out_dir / "messi_kick_pose.png").exists()


def test_boxes_file_gives_one_person_per_box(ckpt, tmp_path):
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({str(MESSI): [[200, 0, 450, 516], [0, 0, 100, 100]]}))
    out = tmp_path / "o.json"
    assert main(["predict", str(MESSI), "--weights", ckpt, "--boxes", str(boxes), "--json", str(out), "-q", "--no-flip"]) == 0
    people = json.loads(out.read_text())[0]["people"]
    assert [p["box"] for p in people] == [[200, 0, 450, 516], [0, 0, 100, 100]]


def test_bad_images_print_one_line_each_and_the_rest_are_still_processed(ckpt, tmp_path, capsys):
    paths = []
    for name, data in bad_image_corpus():
        p = tmp_path / name
        p.write_bytes(data)
        paths.append(str(p))
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((40, 30, 3), np.uint8)).save(good)
    out = tmp_path / "o.json"
    code = main(["predict", *paths[:15], str(good), *paths[15:], "--weights", ckpt, "--json", str(out), "-q",
                 "--detector", "none"])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == len(paths)
    assert all(any(Path(p).name in line for line in err) for p in paths)
    assert [r["image"] for r in json.loads(out.read_text())] == [str(good)]


def test_existing_outputs_are_not_overwritten_without_asking(ckpt, tmp_path, capsys):
    out = tmp_path / "o.json"
    out.write_text("user data")
    assert main(["predict", str(MESSI), "--weights", ckpt, "--json", str(out), "-q"]) == 2
    assert out.read_text() == "user data"
    assert "--overwrite" in capsys.readouterr().err


def test_missing_weights_fail_with_a_message_never_random_predictions(tmp_path, capsys, monkeypatch):
    from hpe_utils import weights

    entry = weights.WeightsEntry(**{**WEIGHTS["default"].__dict__, "local_path": "weights/absent.pt"})
    monkeypatch.setitem(weights.WEIGHTS, "default", entry)
    assert main(["predict", str(MESSI), "--json", str(tmp_path / "o.json")]) == 2
    assert "hpe train" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()


def test_weights_list_prints_the_registry(capsys):
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert "msra_mpii_r50_256x256" in out and "BGR" in out and "mmpose_coco_r50_256x192" in out


def test_weights_download_of_a_manual_entry_explains_how(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HPE_CACHE_DIR", str(tmp_path))
    assert main(["weights", "download", "msra_coco_r50_256x192"]) == 2
    assert "Google Drive" in capsys.readouterr().err
    assert main(["weights", "download"]) == 2


def test_console_script_entry_point_runs():
    r = subprocess.run([sys.executable, "-m", "hpe_utils.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "predict" in r.stdout


def test_eval_crops_with_the_weights_box_padding_unless_told_otherwise(ckpt, tmp_path, capsys):
    lsp = Path(__file__).resolve().parent / "fixtures" / "lsp"
    for extra, expected in (([], 1.25), (["--box-padding", "1.1"], 1.1)):
        report = tmp_path / f"eval{expected}.json"
        assert main(["eval", "--weights", ckpt, "--dataset", "lsp", "--data", str(lsp), "--json", str(report),
                     "-q", *extra]) == 0
        rep = json.loads(report.read_text())
        assert rep["box_padding"] == expected and rep["samples"] > 0
    capsys.readouterr()
    assert main(["eval", "--weights", ckpt, "--dataset", "lsp", "--data", str(lsp), "--box-padding", "0.8", "-q"]) == 2
    assert "box padding must be between 1.0 and 4.0, got 0.8" in capsys.readouterr().err


def test_eval_decodes_with_dark_and_the_exact_flip_shift_unless_told_the_originals(ckpt, tmp_path, capsys):
    lsp = Path(__file__).resolve().parent / "fixtures" / "lsp"
    reports = {}
    for name, extra in (("now", []), ("original", ["--refine", "quarter", "--flip-shift", "1"])):
        out = tmp_path / f"{name}.json"
        assert main(["eval", "--weights", ckpt, "--dataset", "lsp", "--data", str(lsp), "--json", str(out), "-q",
                     *extra]) == 0
        reports[name] = json.loads(out.read_text())
    assert (reports["now"]["refine"], reports["now"]["flip_shift"]) == ("dark", 0.75)
    assert (reports["original"]["refine"], reports["original"]["flip_shift"]) == ("quarter", 1.0)
    capsys.readouterr()
    assert main(["eval", "--weights", ckpt, "--dataset", "lsp", "--data", str(lsp), "--flip-shift", "-1", "-q"]) == 2
    assert "flip shift must be in [0, 8) heatmap pixels, got -1.0" in capsys.readouterr().err


def test_eval_averages_the_test_scales_it_is_given_and_records_them(ckpt, tmp_path, capsys):
    lsp = Path(__file__).resolve().parent / "fixtures" / "lsp"
    out = tmp_path / "ms.json"
    assert main(["eval", "--weights", ckpt, "--dataset", "lsp", "--data", str(lsp), "--json", str(out), "-q",
                 "--scales", "1", "1.2"]) == 0
    assert json.loads(out.read_text())["scales"] == [1.0, 1.2]
    capsys.readouterr()
    assert main(["eval", "--weights", ckpt, "--dataset", "lsp", "--data", str(lsp), "--scales", "1", "0", "-q"]) == 2
    assert "test scales must be one or more positive numbers" in capsys.readouterr().err


def test_eval_finds_mpii_images_itself_and_refuses_a_skeleton_mismatch(ckpt, tmp_path, capsys):
    mpii = Path(__file__).resolve().parent / "fixtures" / "mpii" / "test_mpii.json"  # images are in images/
    report = tmp_path / "mpii.json"
    assert main(["eval", "--weights", ckpt, "--dataset", "mpii", "--data", str(mpii), "--json", str(report), "-q"]) == 0
    assert json.loads(report.read_text())["samples"] == 2
    coco = Path(__file__).resolve().parent / "fixtures" / "coco" / "person_keypoints.json"
    capsys.readouterr()
    assert main(["eval", "--weights", ckpt, "--dataset", "coco", "--data", str(coco), "-q"]) == 2
    assert "coco17 joints, but the skeleton is mpii16" in capsys.readouterr().err


def test_train_reports_unreadable_data_in_one_line_and_makes_no_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--dataset", "lsp", "--data", str(tmp_path / "missing"), "--out-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hpe: cannot read lsp data from") and "joints.mat" in err and "Traceback" not in err
    assert not out.exists()


def test_eval_adds_the_scores_the_dataset_registry_names(ckpt, tmp_path):
    """MPII's registry entry asks for PCKh: records with head boxes get it beside PCK."""
    fix = Path(__file__).resolve().parent / "fixtures" / "mpii"
    records = json.loads((fix / "test_mpii.json").read_text())
    for r in records:
        r["headboxes_src"] = [[r["center"][0] - 20, r["center"][1] - 120], [r["center"][0] + 20, r["center"][1] - 80]]
    data = tmp_path / "with_heads.json"
    data.write_text(json.dumps(records))
    report = tmp_path / "report.json"
    assert main(["eval", "--weights", ckpt, "--dataset", "mpii", "--data", str(data), "--images", str(fix / "images"),
                 "--json", str(report), "-q"]) == 0
    got = json.loads(report.read_text())
    assert "PCK@0.2" in got and "PCKh@0.5" in got
