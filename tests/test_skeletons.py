"""Skeleton metainfo records and the LSP -> MPII conversion."""
import numpy as np
import pytest

from hpe_utils.skeletons import COCO17, LSP14, MPII16, SKELETONS, get_skeleton, lsp_to_mpii, skeleton_for_num_joints


@pytest.mark.parametrize("sk", list(SKELETONS.values()), ids=lambda s: s.name)
def test_flip_pairs_swap_left_and_right_names(sk):
    perm = sk.flip_permutation()
    assert sorted(perm.tolist()) == list(range(sk.num_joints))
    def side_free(name):
        return name.replace("left_", "").replace("right_", "").replace("l_", "").replace("r_", "")

    for a, b in sk.flip_pairs:
        na, nb = sorted([sk.joints[a], sk.joints[b]])  # "l..." sorts before "r..."
        assert na.startswith(("l_", "left_")) and nb.startswith(("r_", "right_")), (na, nb)
        assert side_free(na) == side_free(nb)
        assert {sk.joint_parts[a], sk.joint_parts[b]} in ({"left", "right"}, {"head"})
    assert (perm[perm] == np.arange(sk.num_joints)).all()
    assert len(sk.limb_colours()) == len(sk.limbs) and len(sk.joint_colours()) == sk.num_joints


def test_lookup_by_name_alias_and_joint_count():
    assert get_skeleton("mpii") is MPII16 and get_skeleton("COCO") is COCO17 and get_skeleton("lspet") is LSP14
    assert skeleton_for_num_joints(16) is MPII16 and skeleton_for_num_joints(17) is COCO17
    with pytest.raises(KeyError):
        get_skeleton("h36m")
    with pytest.raises(ValueError):
        skeleton_for_num_joints(21)
    with pytest.raises(KeyError, match="r_ankle"):
        MPII16.index("toe")


def test_lsp_to_mpii_derives_pelvis_and_thorax_only_when_both_parents_are_labelled():
    kp = np.arange(28, dtype=np.float32).reshape(14, 2)
    vis = np.ones(14, np.float32)
    out, v = lsp_to_mpii(kp, vis)
    assert out[MPII16.index("pelvis")].tolist() == ((kp[2] + kp[3]) / 2).tolist()
    assert out[MPII16.index("thorax")].tolist() == ((kp[8] + kp[9]) / 2).tolist()
    assert out[MPII16.index("upper_neck")].tolist() == kp[12].tolist()
    assert out[MPII16.index("l_wrist")].tolist() == kp[11].tolist()
    vis[3] = 0  # left hip unlabelled
    out, v = lsp_to_mpii(kp, vis)
    assert v[MPII16.index("pelvis")] == 0 and v[MPII16.index("l_hip")] == 0 and v[MPII16.index("thorax")] == 1
    assert out[MPII16.index("pelvis")].tolist() == [0, 0]


def test_lsp_to_mpii_works_on_batches_and_rejects_wrong_shapes():
    kp = np.random.default_rng(0).random((5, 14, 2))
    out, v = lsp_to_mpii(kp, np.ones((5, 14)))
    assert out.shape == (5, 16, 2) and v.shape == (5, 16)
    with pytest.raises(ValueError):
        lsp_to_mpii(np.zeros((16, 2)), np.ones(16))
