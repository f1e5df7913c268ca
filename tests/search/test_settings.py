"""The search settings record: every bad value refused with its field named,
valid records surviving the checkpoint."""
import io
import json

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attnas_mmseg.search import COST_LOSS_MODES, PRICINGS, SearchSettings

NAN, INF = float('nan'), float('inf')
LUT = dict(latency_lut='lut.json', latency_target=5.0)


@pytest.mark.parametrize('kwargs,field', [
    *[(dict(flops_target=v), 'flops_target')
      for v in (0.0, -1.0, INF, NAN, True, '30', None)],
    *[(dict(flops_weight=v), 'flops_weight')
      for v in (-0.1, INF, NAN, False, None)],
    *[(dict(flops_loss_mode=v), 'flops_loss_mode')
      for v in ('square', 'ABS', None)],
    *[(dict(flops_pricing=v), 'flops_pricing') for v in ('median', None)],
    *[(dict(flops_input_size=v), 'flops_input_size')
      for v in ((0, 0), (512, 0), (-1, 512), (512,), (512, 1024, 3), 512,
                '512x1024', (512.0, 1024), (True, 1024), None)],
    *[(dict(attention_flops_scale=v), 'attention_flops_scale')
      for v in (0.0, -2.0, NAN, INF)],
    (dict(latency_lut=5, latency_target=5.0), 'latency_lut'),
    (dict(latency_lut='lut.json'), 'latency_target'),
    (dict(latency_target=5.0), 'latency_lut'),
    (dict(latency_weight=1.0), 'latency_lut'),
    *[(dict(LUT, latency_target=v), 'latency_target')
      for v in (0.0, -1.0, NAN, INF, True)],
    *[(dict(LUT, latency_weight=v), 'latency_weight')
      for v in (-1.0, NAN, INF, True)],
    *[(dict(gumbel_tau=v), 'gumbel_tau')
      for v in (2.0, (1.0,), (1.0, 0.5, 0.1), (1.0, 0.0), (-1.0, 1.0),
                (1.0, NAN), (True, 1.0), '4,1')],
    *[(dict(warmup_epochs=v), 'warmup_epochs') for v in (-1, 1.5, True)],
    *[(dict(warmup_iters=v), 'warmup_iters') for v in (-1, 2.0, None)],
    *[(dict(interval=v), 'interval') for v in (0, -3, 1.0, True)],
    *[(dict(topk=v), 'topk') for v in (0, 2.5, True)],
    *[(dict(log_interval=v), 'log_interval') for v in (0, '10')],
])
def test_bad_values_are_refused_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        SearchSettings(**kwargs)


def test_messages_give_the_allowed_values():
    for kwargs, allowed in [(dict(flops_target=0), '> 0'),
                            (dict(flops_weight=-1), '>= 0'),
                            (dict(interval=0), 'int >= 1'),
                            (dict(warmup_iters=-1), 'int >= 0'),
                            (dict(flops_input_size=(0, 0)), 'int >= 1'),
                            (dict(flops_input_size=(1, 2, 3)), '(H, W)'),
                            (dict(gumbel_tau=1.0), '(start, end)'),
                            (dict(flops_pricing='x'), str(PRICINGS)),
                            (dict(flops_loss_mode='x'), str(COST_LOSS_MODES))]:
        with pytest.raises(ValueError) as error:
            SearchSettings(**kwargs)
        assert allowed in str(error.value), kwargs


def test_values_are_normalised():
    s = SearchSettings(flops_target=30, flops_input_size=[64, 128],
                       gumbel_tau=[4, 1], latency_weight=0)
    assert s.flops_target == 30.0 and isinstance(s.flops_target, float)
    assert s.flops_input_size == (64, 128)
    assert s.gumbel_tau == (4.0, 1.0)
    with pytest.raises(AttributeError):
        s.topk = 3   # frozen: what the hook runs with is what it records


def test_from_config_reads_a_hook_dict():
    hook = dict(type='ArchUpdateHook', arch_dataloader=dict(batch_size=2),
                flops_target=40.0, topk=3)
    s = SearchSettings.from_config(hook)
    assert (s.flops_target, s.topk) == (40.0, 3)
    assert s.flops_weight == SearchSettings().flops_weight   # the default
    with pytest.raises(TypeError, match='flops_targt'):
        SearchSettings.from_config(dict(flops_targt=40.0))


def test_record_has_the_checkpoint_keys():
    assert SearchSettings().record() == dict(
        flops_target_G=30.0, flops_input_size=[1024, 2048],
        flops_loss_mode='abs', flops_pricing='derived', flops_weight=0.1,
        latency_lut=None, latency_target_ms=None, latency_weight=0.0, topk=4)


def test_tau_is_annealed_linearly_between_the_arch_steps():
    s = SearchSettings(gumbel_tau=(4.0, 1.0))
    # arch steps at iterations 10..20: 4 at the first, 1 at the last
    assert [s.tau_at(i, 10, 20) for i in (0, 10, 15, 20, 30)] == \
        [4.0, 4.0, 2.5, 1.0, 1.0]


positive = st.floats(min_value=1e-6, max_value=1e6) | st.integers(1, 10**6)
non_negative = st.floats(min_value=0.0, max_value=1e6) | st.integers(0, 100)
latency = st.just({}) | st.fixed_dictionaries(dict(
    latency_lut=st.text(min_size=1), latency_target=positive,
    latency_weight=non_negative))
valid = st.builds(
    lambda lat, **kw: SearchSettings(**kw, **lat), latency,
    flops_target=positive, flops_weight=non_negative,
    flops_loss_mode=st.sampled_from(COST_LOSS_MODES),
    flops_pricing=st.sampled_from(PRICINGS),
    flops_input_size=st.tuples(st.integers(1, 4096), st.integers(1, 4096)),
    attention_flops_scale=positive,
    gumbel_tau=st.none() | st.tuples(positive, positive),
    warmup_epochs=st.integers(0, 500), warmup_iters=st.integers(0, 10**6),
    interval=st.integers(1, 100), topk=st.integers(1, 39),
    log_interval=st.integers(1, 1000))


@given(valid)
def test_valid_records_round_trip_through_a_checkpoint(s):
    record = s.record()
    buffer = io.BytesIO()
    torch.save(dict(arch_update_hook=dict(settings=record)), buffer)
    buffer.seek(0)
    loaded = torch.load(buffer)['arch_update_hook']['settings']
    assert json.loads(json.dumps(loaded)) == loaded == record
    restored = SearchSettings.from_record(loaded)
    assert restored.record() == record
    assert restored == SearchSettings(
        **{f: getattr(s, f) for f in (
            'flops_target', 'flops_input_size', 'flops_loss_mode',
            'flops_pricing', 'flops_weight', 'latency_lut', 'latency_target',
            'latency_weight', 'topk')})
