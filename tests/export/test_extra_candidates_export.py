"""User candidates after the search (issue 16): checkpoints are read in the
space's shapes, arch.json records the candidates, the retrain config builds
them, plots name them; paper-space files are unchanged."""
import json

import pytest
import torch
from mmengine.config import Config

from attnas_mmseg.export import (export_derived, load_search_checkpoint,
                                 sample_arch)
from attnas_mmseg.models import apply_arch, build_segmentor
from attnas_mmseg.ops import NoiseAttention, NoiseOp
from attnas_mmseg.search import ArchSpec
from attnas_mmseg.search.space.extra_candidates import ExtraCandidates

from .._builders import segmentor_cfg

NOISE = ExtraCandidates([dict(type='NoiseOp')],
                        [dict(type='NoiseAttention')])


def planted_cfg(**kwargs):
    cfg = segmentor_cfg(num_classes=19, channels=32, **kwargs)
    cfg['backbone']['extra_ops'] = [dict(type='NoiseOp')]
    cfg['decode_head']['extra_attentions'] = [dict(type='NoiseAttention')]
    return cfg


def save_ckpt(path, alpha, beta):
    torch.save(dict(state_dict={'backbone.alpha': alpha,
                                'decode_head.attention.beta': beta},
                    meta=dict(epoch=1)), path)


@pytest.fixture
def planted_run(tmp_path):
    """A search config of the noise space, a retrain base without the user
    candidates, and a checkpoint whose alpha picks the noise op in block 2
    and whose beta puts Att14 in the top-4."""
    base = tmp_path / 'retrain_base.py'
    Config(dict(model=segmentor_cfg(num_classes=19, channels=32),
                custom_imports=dict(imports=['attnas_mmseg']))).dump(
                    str(base))
    cfg = tmp_path / 'search.py'
    Config(dict(model=planted_cfg(),
                custom_imports=dict(imports=['attnas_mmseg']),
                derive=dict(topk=4, input_size=(64, 128),
                            retrain_base='retrain_base.py'))).dump(str(cfg))
    alpha = torch.zeros(17, 7)
    alpha[:, 2] = 1.0
    alpha[1, 6] = 2.0
    beta = torch.zeros(2, 14)
    beta[0, 13], beta[0, 12], beta[1, 2], beta[1, 6] = 4, 3, 2, 1
    save_ckpt(tmp_path / 'search.pth', alpha, beta)
    return cfg, tmp_path / 'search.pth'


def test_checkpoint_shapes_come_from_the_space(tmp_path):
    path = tmp_path / 'c.pth'
    save_ckpt(path, torch.zeros(17, 7), torch.zeros(2, 14))
    _, alpha, beta = load_search_checkpoint(str(path), NOISE)
    assert alpha.shape == (17, 7) and beta.shape == (2, 14)
    assert load_search_checkpoint(str(path))[1].shape == (17, 7)
    with pytest.raises(ValueError, match=r'shape \(17, 6\) \(a search with '
                       'other user candidates'):
        load_search_checkpoint(str(path), ExtraCandidates())
    save_ckpt(path, torch.zeros(17, 5), torch.zeros(2, 13))
    with pytest.raises(ValueError, match=r'\(17, 6 \+ user ops\)'):
        load_search_checkpoint(str(path))


def test_derive_records_and_retrains_the_user_candidates(planted_run,
                                                         tmp_path):
    cfg, ckpt = planted_run
    spec = export_derived(str(cfg), str(ckpt), str(tmp_path / 'out'))
    assert spec.backbone[1] == 7 and spec.attention == ((13, 14), (3, 7))
    record = json.loads((tmp_path / 'out' / 'arch.json').read_text())
    assert record['extra'] == NOISE.to_dict()
    assert ArchSpec.load(tmp_path / 'out' / 'arch.json') == spec
    retrain = Config.fromfile(str(tmp_path / 'out' / 'retrain.py'))
    assert retrain.model.backbone.extra_ops == [dict(type='NoiseOp')]
    assert retrain.custom_imports.imports == ['attnas_mmseg']
    model = build_segmentor(retrain)
    assert isinstance(model.backbone.layer2[0], NoiseOp)
    assert isinstance(model.decode_head.attention.layers[0]['att14'],
                      NoiseAttention)


def test_apply_arch_fills_in_the_spec_candidates():
    spec = ArchSpec.parse_arch('mv2(' + ','.join(['7'] * 17) +
                               ') AttSet1(14)', NOISE)
    cfg = apply_arch(segmentor_cfg(), spec)
    assert cfg['backbone']['extra_ops'] == [dict(type='NoiseOp')]
    assert cfg['decode_head']['extra_attentions'] == [
        dict(type='NoiseAttention')]
    # the notation is read in the config's space
    assert apply_arch(planted_cfg(), 'AttSet1(14)')['decode_head']['arch'] \
        == [[14]]
    with pytest.raises(ValueError, match='extra_attentions'):
        apply_arch(segmentor_cfg(), 'AttSet1(14)')


def test_a_spec_of_another_space_is_refused_by_the_modules():
    other = ExtraCandidates(attentions=[dict(type='NoiseAttention', k=1)])
    cfg = planted_cfg(head_arch=None)
    cfg['decode_head']['arch'] = ArchSpec(attention=[[14]], extra=other)
    with pytest.raises(ValueError, match="not this head's extra_attentions"):
        build_segmentor(cfg)


def test_random_architectures_draw_user_candidates():
    import random
    rng = random.Random(0)
    specs = [sample_arch(rng, extra=NOISE) for _ in range(50)]
    assert max(max(s.backbone) for s in specs) == 7
    assert max(max(max(ids, default=0) for ids in s.attention)
               for s in specs) == 14
    assert all(s.extra == NOISE for s in specs)


def test_noise_candidates_replace_the_output_by_noise_of_its_scale():
    x = 5 * torch.randn(2, 16, 32, 64) + 1
    y = NoiseOp(16, 24, stride=2)(x)
    assert y.shape == (2, 24, 16, 32)
    assert y.std().item() == pytest.approx(x.std().item(), rel=0.05)
    assert list(NoiseOp(16, 24).parameters()) == []
    x.requires_grad_(True)
    z = NoiseAttention(16)(x)
    assert z.shape == x.shape and not z.requires_grad   # nothing flows back
    corr = torch.corrcoef(torch.stack([z.flatten(), x.detach().flatten()]))
    assert abs(float(corr[0, 1])) < 0.02
