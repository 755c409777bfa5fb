"""Checkpoint loading: every released layout loads strictly and predicts like the network that saved it."""
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from hpe_utils.model import PoseResNet
from hpe_utils.skeletons import get_skeleton
from hpe_utils.weights import (
    load_backbone,
    WEIGHTS, WeightsEntry, WeightsError, describe_weights_table, infer_config, load_weights, save_checkpoint,
)
from reference_impl import reference_model

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ref():
    return reference_model(18, 16)


def _layouts(sd):
    plain = dict(sd)
    return {
        "plain": plain,
        "state_dict_module": {"state_dict": {f"module.{k}": v for k, v in plain.items()}, "epoch": 140},
        "mmpose_v1": {"meta": {"mmpose_version": "1.0.0"}, "state_dict": {
            (f"backbone.{k}" if k.startswith(("conv1", "bn1", "layer")) else f"head.{k}"): v for k, v in plain.items()}},
        "mmpose_v0": {"meta": {}, "state_dict": {
            (f"backbone.{k}" if k.startswith(("conv1", "bn1", "layer")) else f"keypoint_head.{k}"): v for k, v in plain.items()}},
        "no_num_batches_tracked": {k: v for k, v in plain.items() if not k.endswith("num_batches_tracked")},
    }


@pytest.mark.parametrize("layout", ["plain", "state_dict_module", "mmpose_v1", "mmpose_v0", "no_num_batches_tracked"])
def test_every_released_layout_loads_strictly_and_gives_the_same_heatmaps(tmp_path, ref, layout):
    path = tmp_path / f"{layout}.pth"
    torch.save(_layouts(ref.state_dict())[layout], path)
    lw = load_weights(path)
    assert lw.config.depth == 18 and lw.config.num_joints == 16
    assert lw.config.deconv_filters == (256, 256, 256) and lw.config.deconv_kernels == (4, 4, 4)
    assert lw.skeleton.name == "mpii16" and lw.input_size == (256, 256) and lw.color_order == "rgb"
    x = torch.randn(2, 3, 128, 96)
    with torch.no_grad():
        diff = (lw.model(x) - ref(x)).abs().max().item()
    assert diff < 1e-4


def test_bottleneck_checkpoint_is_inferred_as_resnet50(tmp_path):
    m = PoseResNet(depth=50, num_joints=17)
    torch.save({"state_dict": m.state_dict()}, tmp_path / "r50.pth")
    lw = load_weights(tmp_path / "r50.pth")
    assert lw.config.depth == 50 and lw.skeleton.name == "coco17" and lw.input_size == (192, 256)


def test_overrides_for_bare_checkpoints(tmp_path, ref):
    torch.save(ref.state_dict(), tmp_path / "m.pth")
    lw = load_weights(tmp_path / "m.pth", input_size=(192, 256), color_order="bgr")
    assert lw.input_size == (192, 256) and lw.color_order == "bgr"
    with pytest.raises(WeightsError, match="17 joints|16 joints"):
        load_weights(tmp_path / "m.pth", skeleton="coco17")


def test_wrong_shapes_are_reported_with_both_shapes(tmp_path, ref):
    sd = dict(ref.state_dict())
    sd["layer1.0.conv1.weight"] = torch.zeros(64, 64, 1, 1)
    torch.save(sd, tmp_path / "bad.pth")
    with pytest.raises(WeightsError, match=r"layer1\.0\.conv1\.weight: checkpoint \(64, 64, 1, 1\) vs model \(64, 64, 3, 3\)"):
        load_weights(tmp_path / "bad.pth")


def test_missing_and_unexpected_keys_are_listed(tmp_path, ref):
    sd = dict(ref.state_dict())
    del sd["layer2.1.bn2.weight"]
    sd["extra_head.weight"] = torch.zeros(3)
    torch.save(sd, tmp_path / "bad.pth")
    with pytest.raises(WeightsError) as info:
        load_weights(tmp_path / "bad.pth")
    msg = str(info.value)
    assert "missing keys (1): layer2.1.bn2.weight" in msg and "unexpected keys (1): extra_head.weight" in msg


@pytest.mark.parametrize("content", [b"hello, not a checkpoint", bytes(range(256)) * 10, b""])
def test_non_checkpoint_files_are_refused(tmp_path, content):
    p = tmp_path / "x.pth"
    p.write_bytes(content)
    with pytest.raises(WeightsError, match="x.pth"):
        load_weights(p)


class Payload:
    def __reduce__(self):
        return (print, ("pickle code ran",))


def test_a_pickle_that_would_run_code_is_refused(tmp_path, capsys):
    p = tmp_path / "evil.pth"
    torch.save({"state_dict": {"x": torch.zeros(1)}, "payload": Payload()}, p)
    with pytest.raises(WeightsError, match="not a loadable PyTorch checkpoint"):
        load_weights(p)
    assert "pickle code ran" not in capsys.readouterr().out


def test_state_dict_that_is_not_a_pose_resnet_is_refused(tmp_path):
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "fc.pth")
    with pytest.raises(WeightsError, match="not a ResNet pose checkpoint"):
        load_weights(tmp_path / "fc.pth")


def test_missing_default_weights_say_how_to_get_them(tmp_path, monkeypatch):
    entry = WeightsEntry(**{**WEIGHTS["default"].__dict__, "local_path": "weights/does_not_exist.pt"})
    with pytest.raises(WeightsError, match=r"hpe train.*--weights"):
        load_weights(entry)
    with pytest.raises(WeightsError, match="no such file"):
        load_weights(tmp_path / "nothing.pt")


def test_manual_only_entries_explain_the_manual_download(tmp_path, monkeypatch):
    monkeypatch.setenv("HPE_CACHE_DIR", str(tmp_path))
    with pytest.raises(WeightsError, match=r"Google Drive.*pose_resnet_50_256x192\.pth\.tar"):
        load_weights("msra_coco_r50_256x192")


def test_our_format_round_trips_fp16_storage_to_fp32(tmp_path):
    torch.manual_seed(0)
    m = PoseResNet(depth=18, num_joints=16, deconv_filters=(64, 64), deconv_kernels=(4, 4)).eval()
    p = save_checkpoint(m, tmp_path / "mine.pt", skeleton="mpii16", input_size=(128, 128), meta={"val": 0.5})
    raw = torch.load(p, map_location="cpu", weights_only=True)
    assert raw["state_dict"]["conv1.weight"].dtype == torch.float16
    lw = load_weights(p)
    assert lw.config == m.config and lw.input_size == (128, 128) and lw.meta == {"val": 0.5}
    assert next(lw.model.parameters()).dtype == torch.float32
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert (lw.model(x) - m(x)).abs().max().item() < 1e-2
    with pytest.raises(FileExistsError):
        save_checkpoint(m, p, skeleton="mpii16", input_size=(128, 128))
    assert not list(tmp_path.glob("*.part"))


def test_registry_entries_are_consistent():
    for e in WEIGHTS.values():
        get_skeleton(e.skeleton)
        assert e.color_order in ("rgb", "bgr")
        if e.key_format == "original":
            assert e.color_order == "bgr" and e.manual_download and not e.urls
        if e.key_format.startswith("mmpose"):
            assert e.color_order == "rgb"
            digits = re.search(r"-([0-9a-f]{8})_\d{8}\.pth$", e.urls[0]).group(1)
            assert e.sha256 == digits
    assert len([e for e in WEIGHTS.values() if e.key_format == "original"]) == 6
    assert "mmpose_coco_r50_256x192" in describe_weights_table()


def test_infer_config_reads_head_options():
    m = PoseResNet(depth=34, num_joints=14, deconv_filters=(128, 64), deconv_kernels=(3, 2), final_kernel=3)
    assert infer_config(m.state_dict()) == m.config


def test_every_torch_load_in_the_code_uses_weights_only():
    calls = []
    for folder in ("hpe_utils", "tests", "bench"):
        for f in (REPO / folder).rglob("*.py"):
            text = f.read_text()
            for m in re.finditer(r"torch\.load\(", text):
                depth, i = 1, m.end()
                while depth and i < len(text):
                    depth += {"(": 1, ")": -1}.get(text[i], 0)
                    i += 1
                calls.append((f.name, text[m.start():i]))
    assert calls, "expected to find torch.load calls"
    bad = [c for c in calls if "weights_only=True" not in c[1]]
    assert not bad, f"torch.load without weights_only=True: {bad}"


def test_averaged_checkpoint_holds_the_mean_of_its_runs_and_refuses_mismatches(tmp_path):
    from hpe_utils.cli import main
    from hpe_utils.weights import average_checkpoints

    small = dict(depth=18, num_joints=16, deconv_filters=(64, 64), deconv_kernels=(4, 4))
    paths = []
    for seed in range(3):
        torch.manual_seed(seed)
        m = PoseResNet(**small)
        paths.append(save_checkpoint(m, tmp_path / f"run{seed}.pt", skeleton="mpii16", input_size=(128, 128),
                                     meta={"val_pck@0.2": 0.1 * seed}, half=False))
    out = average_checkpoints(paths, tmp_path / "soup.pt")
    runs = [load_weights(p).model.state_dict() for p in paths]
    soup = load_weights(out)
    assert soup.config == load_weights(paths[0]).config and soup.input_size == (128, 128)
    for k, v in soup.model.state_dict().items():
        if v.is_floating_point():  # fp16 storage: compare at its precision
            torch.testing.assert_close(v, sum(r[k] for r in runs) / 3, atol=2e-3, rtol=1e-2)
    assert soup.meta["averaged_from"] == [str(p) for p in paths]
    assert [m["val_pck@0.2"] for m in soup.meta["averaged_meta"]] == [0.0, 0.1, 0.2]

    with pytest.raises(FileExistsError):
        average_checkpoints(paths, out)
    with pytest.raises(WeightsError, match="at least two"):
        average_checkpoints(paths[:1], tmp_path / "one.pt")
    other = save_checkpoint(PoseResNet(depth=18, num_joints=16, deconv_filters=(32, 32), deconv_kernels=(4, 4)),
                            tmp_path / "other.pt", skeleton="mpii16", input_size=(128, 128))
    with pytest.raises(WeightsError, match="does not match"):
        average_checkpoints([paths[0], other], tmp_path / "bad.pt")
    assert not (tmp_path / "bad.pt").exists()

    assert main(["weights", "average", str(paths[0]), str(paths[1]), "--out", str(tmp_path / "cli.pt")]) == 0
    assert main(["weights", "average", str(paths[0]), str(paths[1]), "--out", str(tmp_path / "cli.pt")]) == 2
    assert main(["weights", "average", str(paths[0]), str(paths[1])]) == 2  # no --out


def test_box_padding_is_stored_with_the_weights_and_checked_on_load(tmp_path):
    from hpe_utils.cli import main
    from hpe_utils.weights import average_checkpoints

    m = PoseResNet(depth=18, num_joints=16, deconv_filters=(32, 32), deconv_kernels=(4, 4))
    tight = save_checkpoint(m, tmp_path / "tight.pt", skeleton="mpii16", input_size=(64, 64), box_padding=1.125)
    plain = save_checkpoint(m, tmp_path / "plain.pt", skeleton="mpii16", input_size=(64, 64))
    assert load_weights(tight).box_padding == 1.125
    assert load_weights(plain).box_padding == 1.25  # the original recipe's context
    assert load_weights(tight, box_padding=1.5).box_padding == 1.5  # an explicit choice wins

    # files written before the padding was stored, and bare state dicts, get the original 1.25
    raw = torch.load(tight, map_location="cpu", weights_only=True)
    del raw["box_padding"]
    torch.save(raw, tmp_path / "old.pt")
    torch.save(m.state_dict(), tmp_path / "bare.pt")
    assert load_weights(tmp_path / "old.pt").box_padding == 1.25
    assert load_weights(tmp_path / "bare.pt").box_padding == 1.25

    raw["box_padding"] = 0.5  # would crop into the person box
    torch.save(raw, tmp_path / "bad.pt")
    with pytest.raises(WeightsError, match=r"bad\.pt: box padding must be between 1\.0 and 4\.0, got 0\.5"):
        load_weights(tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="box padding"):
        save_checkpoint(m, tmp_path / "nan.pt", skeleton="mpii16", input_size=(64, 64), box_padding=float("nan"))
    assert not (tmp_path / "nan.pt").exists()

    # averaging keeps the first file's padding unless told otherwise
    assert load_weights(average_checkpoints([tight, plain], tmp_path / "a.pt")).box_padding == 1.125
    assert main(["weights", "average", str(plain), str(tight), "--out", str(tmp_path / "b.pt"),
                 "--box-padding", "1.1"]) == 0
    assert load_weights(tmp_path / "b.pt").box_padding == 1.1
    assert main(["weights", "average", str(plain), str(tight), "--out", str(tmp_path / "c.pt"),
                 "--box-padding", "9"]) == 2
    assert not (tmp_path / "c.pt").exists()

    # set: a copy with another padding; weights, meta and the source file untouched
    plain_meta = save_checkpoint(m, tmp_path / "meta.pt", skeleton="mpii16", input_size=(64, 64), meta={"v": 1})
    assert main(["weights", "set", str(plain_meta), "--box-padding", "1.125", "--out", str(tmp_path / "d.pt")]) == 0
    d, src = load_weights(tmp_path / "d.pt"), load_weights(plain_meta)
    assert d.box_padding == 1.125 and src.box_padding == 1.25 and d.meta == {"v": 1}
    src_sd = src.model.state_dict()
    for k, v in d.model.state_dict().items():
        assert torch.equal(v, src_sd[k]), k
    assert main(["weights", "set", str(plain_meta), "--box-padding", "1.1", "--out", str(tmp_path / "d.pt")]) == 2
    assert main(["weights", "set", str(plain_meta), "--out", str(tmp_path / "e.pt")]) == 2  # no padding given
    assert not (tmp_path / "e.pt").exists()


def test_an_imagenet_resnet_file_fills_the_backbone_and_leaves_the_head_alone(tmp_path):
    import torchvision

    torch.manual_seed(0)
    classifier = torchvision.models.resnet18(weights=None)  # the layout of torchvision's ImageNet files
    path = tmp_path / "resnet18_imagenet.pth"
    torch.save({"state_dict": {"module." + k: v for k, v in classifier.state_dict().items()}}, path)  # DDP-wrapped
    model = PoseResNet(depth=18, num_joints=16, deconv_filters=(32, 32, 32))
    head = {k: v.clone() for k, v in model.state_dict().items() if k.startswith(("deconv", "final"))}
    assert load_backbone(model, path) == sum(1 for k in classifier.state_dict() if not k.startswith("fc."))
    own = model.state_dict()
    for k, v in classifier.state_dict().items():
        if not k.startswith("fc."):
            assert torch.equal(own[k], v), k
    for k, v in head.items():
        assert torch.equal(own[k], v), k
    with pytest.raises(WeightsError, match=r"does not fit the model[\s\S]*unexpected keys"):
        torch.save(torchvision.models.resnet34(weights=None).state_dict(), tmp_path / "r34.pth")
        load_backbone(PoseResNet(depth=18, num_joints=16), tmp_path / "r34.pth")
    torch.save({"fc.weight": torch.zeros(3, 3)}, tmp_path / "head_only.pth")
    with pytest.raises(WeightsError, match="no ResNet backbone keys"):
        load_backbone(model, tmp_path / "head_only.pth")


def test_the_training_sigma_travels_with_the_checkpoint_and_decodes_its_heatmaps(tmp_path):
    """A model trained with sigma 3 at 64x64 must be DARK-decoded with sigma 3, not the input size's usual 2."""
    from hpe_utils.formats import metadata
    from hpe_utils.predictor import Predictor
    from hpe_utils.weights import average_checkpoints, set_box_padding

    m = PoseResNet(depth=18, num_joints=16, deconv_filters=(32, 32, 32))
    wide = save_checkpoint(m, tmp_path / "wide.pt", skeleton="mpii16", input_size=(64, 64), sigma=3.0)
    plain = save_checkpoint(m, tmp_path / "plain.pt", skeleton="mpii16", input_size=(64, 64))
    assert load_weights(wide).sigma == 3.0
    assert Predictor(wide, backend="torch").codec.sigma == 3.0
    assert Predictor(wide, backend="torch", sigma=2.5).codec.sigma == 2.5  # an explicit choice wins
    # no stored sigma (foreign files, our files before it was stored): the usual one for the input size
    assert load_weights(plain).sigma == 2.0
    torch.save(m.state_dict(), tmp_path / "bare.pt")
    assert load_weights(tmp_path / "bare.pt", input_size=(288, 384)).sigma == 2.0  # the file's size, not the override
    raw = torch.load(wide, map_location="cpu", weights_only=True)
    raw["meta"]["sigma"] = raw.pop("sigma")  # where hpe train kept it before
    torch.save(raw, tmp_path / "old.pt")
    assert load_weights(tmp_path / "old.pt").sigma == 3.0
    # copies keep it; averaging refuses runs trained on different targets; exports carry it
    assert load_weights(set_box_padding(wide, tmp_path / "tight.pt", 1.1)).sigma == 3.0
    with pytest.raises(WeightsError, match="does not match"):
        average_checkpoints([wide, plain], tmp_path / "avg.pt")
    assert metadata(load_weights(wide))["sigma"] == 3.0
    with pytest.raises(ValueError, match="sigma must be a positive number"):
        save_checkpoint(m, tmp_path / "bad.pt", skeleton="mpii16", input_size=(64, 64), sigma=0.0)


def test_the_default_weights_decode_exactly_as_before():
    """Their stored sigma is the default one, so reading it changes no keypoint."""
    from hpe_utils.predictor import Predictor

    messi = Path(__file__).resolve().parent.parent / "data" / "messi_kick.webp"
    stored = Predictor("default", backend="torch")
    assert stored.weights.sigma == 2.0
    usual = Predictor("default", backend="torch", sigma=2.0)
    np.testing.assert_array_equal(stored(messi).people[0].keypoints, usual(messi).people[0].keypoints)
