"""PoseResNet: original parameter names, shapes, head options and initialisation."""
import numpy as np
import pytest
import torch

from hpe_utils.codec import HeatmapCodec
from hpe_utils.flip import flip_back, flip_back_numpy, flip_test, mirror_shift
from hpe_utils.losses import JointsMSELoss
from hpe_utils.model import PoseResNet, PoseResNetConfig, count_macs, count_parameters, fold_deconv_batchnorm
from hpe_utils.skeletons import MPII16


def test_state_dict_names_are_those_of_the_original_release():
    keys = set(PoseResNet(depth=18, num_joints=16).state_dict())
    for k in ["conv1.weight", "bn1.running_var", "layer1.0.conv1.weight", "layer4.1.bn2.weight",
              "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_mean", "final_layer.weight",
              "final_layer.bias"]:
        assert k in keys
    head = sorted({k.split(".")[1] for k in keys if k.startswith("deconv_layers.")}, key=int)
    assert head == ["0", "1", "3", "4", "6", "7"]
    assert not any(k.startswith(("fc.", "avgpool")) for k in keys)


def test_resnet50_256x192_has_the_papers_34_million_parameters():
    m = PoseResNet(depth=50, num_joints=17)
    assert count_parameters(m) / 1e6 == pytest.approx(34.0, abs=0.05)


@pytest.mark.parametrize("kernel", [2, 3, 4])
def test_every_deconv_kernel_doubles_resolution_to_output_stride_4(kernel):
    m = PoseResNet(depth=18, num_joints=5, deconv_kernels=(kernel,) * 3).eval()
    out = m(torch.zeros(1, 3, 128, 96))
    assert out.shape == (1, 5, 32, 24)


def test_head_options_change_layers_and_stride():
    m = PoseResNet(depth=18, num_joints=3, deconv_filters=(64, 32), deconv_kernels=(4, 4), final_kernel=3).eval()
    assert m.config.stride == 8
    assert m(torch.zeros(1, 3, 64, 64)).shape == (1, 3, 8, 8)
    assert m.final_layer.kernel_size == (3, 3)


def test_bad_configs_raise_clear_errors():
    with pytest.raises(ValueError, match="depth"):
        PoseResNetConfig(depth=20)
    with pytest.raises(ValueError, match="kernel"):
        PoseResNetConfig(deconv_kernels=(5, 5, 5))
    with pytest.raises(ValueError, match="final_kernel"):
        PoseResNetConfig(final_kernel=5)


def test_head_is_initialised_with_std_0_001():
    torch.manual_seed(0)
    m = PoseResNet(depth=18, num_joints=16)
    assert m.deconv_layers[0].weight.std().item() == pytest.approx(0.001, rel=0.05)
    assert m.final_layer.weight.std().item() == pytest.approx(0.001, rel=0.1)
    assert m.final_layer.bias.abs().max().item() == 0


def test_config_round_trips_through_dict():
    cfg = PoseResNetConfig(depth=34, num_joints=14, deconv_filters=(128, 128), deconv_kernels=(3, 2), final_kernel=3)
    assert PoseResNetConfig.from_dict(cfg.to_dict()) == cfg


def test_macs_of_resnet50_256x192_match_the_usual_5_4_g():
    assert count_macs(PoseResNet(depth=50, num_joints=17), (192, 256)) / 1e9 == pytest.approx(5.43, abs=0.05)


def test_folding_deconv_batchnorm_keeps_outputs():
    torch.manual_seed(0)
    m = PoseResNet(depth=18, num_joints=4).eval()
    for mod in m.deconv_layers:
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-1, 1)
            mod.running_var.uniform_(0.5, 2)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-1, 1)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(fold_deconv_batchnorm(m)(x), m(x), atol=1e-5)


def test_flip_back_mirrors_swaps_and_shifts_one_pixel():
    hm = torch.zeros(1, 16, 8, 8)
    hm[0, 0, 3, 2] = 1.0  # r_ankle seen at x=2 in the mirrored image
    out = flip_back(hm, MPII16.flip_permutation())
    # mirrored x = 7 - 2 = 5, moved to the l_ankle channel, then shifted right by one -> 6
    assert out[0, 5, 3, 6] == 1.0 and out[0, 0].sum() == 0
    assert flip_back(hm, MPII16.flip_permutation(), shift=False)[0, 5, 3, 5] == 1.0


def test_fractional_flip_shift_interpolates_and_numpy_matches_torch():
    hm = torch.zeros(1, 16, 8, 8)
    hm[0, 0, 3, 2] = 1.0
    out = flip_back(hm, MPII16.flip_permutation(), 0.75)
    assert out[0, 5, 3, 5] == pytest.approx(0.25) and out[0, 5, 3, 6] == pytest.approx(0.75)
    assert out.sum() == pytest.approx(1.0)
    rnd = torch.rand(2, 16, 6, 8)
    for s in (0.0, 0.75, 1.0, 2.5):
        assert np.allclose(flip_back_numpy(rnd.numpy(), MPII16.flip_permutation(), s),
                           flip_back(rnd, MPII16.flip_permutation(), s).numpy(), atol=1e-6)
    assert mirror_shift(192, 48) == 0.75 and mirror_shift(256, 64) == 0.75
    with pytest.raises(ValueError):
        flip_back(hm, MPII16.flip_permutation(), -1.0)


class DotToGaussian(torch.nn.Module):
    """A perfectly mirror-equivariant 'pose model': every joint's heatmap is a Gaussian at the brightest input
    pixel, in continuous heatmap coordinates (input x / 4) -- what an ideal network would learn."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        out = torch.zeros(n, 16, h // 4, w // 4)
        yy, xx = torch.meshgrid(torch.arange(h // 4.0), torch.arange(w // 4.0), indexing="ij")
        for i in range(n):
            k = int(x[i, 0].argmax())
            cy, cx = (k // w) / 4, (k % w) / 4
            out[i] = torch.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 8)
        return out


def test_flip_test_with_the_exact_mirror_shift_keeps_an_equivariant_models_joints_in_place():
    codec = HeatmapCodec((192, 192))
    x = torch.zeros(1, 3, 192, 192)
    x[0, :, 101, 77] = 1.0
    plain, _ = codec.decode(DotToGaussian()(x).numpy())
    assert np.abs(plain[0, 0] - [77 / 4, 101 / 4]).max() < 0.02
    exact, _ = codec.decode(flip_test(DotToGaussian(), x, MPII16.flip_permutation()).numpy())
    whole, _ = codec.decode(flip_test(DotToGaussian(), x, MPII16.flip_permutation(), shift=1.0).numpy())
    assert np.abs(exact[0, 0] - plain[0, 0]).max() < 0.03
    assert exact[0, 0, 0] > plain[0, 0, 0] - 0.03 and whole[0, 0, 0] - plain[0, 0, 0] > 0.1  # 1 px overshoots


def test_flip_test_of_a_mirror_symmetric_model_averages_both_branches():
    class Echo(torch.nn.Module):
        def forward(self, x):
            return x[:, :1].repeat(1, 16, 1, 1)

    x = torch.arange(64.0).reshape(1, 1, 8, 8).repeat(1, 3, 1, 1)
    out = flip_test(Echo(), x, MPII16.flip_permutation(), shift=False)
    assert torch.allclose(out, x[:, :1].repeat(1, 16, 1, 1))


def test_loss_is_half_the_weighted_mse_and_ignores_zero_weight_joints():
    out = torch.zeros(2, 3, 4, 4)
    target = torch.ones(2, 3, 4, 4)
    w = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    loss = JointsMSELoss()(out, target, w)
    assert loss.item() == pytest.approx(0.5 * 2 / 3)
    assert JointsMSELoss(use_target_weight=False)(out, target).item() == pytest.approx(0.5)
    with pytest.raises(ValueError):
        JointsMSELoss()(out, target[:, :2], w)
