"""Derive the searched architecture (§3.3.3) and write a retrain config.

    python tools/derive_arch.py CONFIG CHECKPOINT --out-dir DIR [--topk 4]

writes ``DIR/arch.json`` (paper notation, FLOPs and params at the paper's
input size) and ``DIR/retrain.py`` (inherits ``derive.retrain_base`` of CONFIG
with the derived backbone and head), refusing to replace either unless
``--overwrite`` is given.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from attnas_mmseg.export.derived import export_derived  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the search config')
    parser.add_argument('checkpoint', help='a checkpoint of that search')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--topk', type=int, default=None,
                        help='attentions to keep (default: derive.topk or 4)')
    parser.add_argument('--input-size', type=int, nargs=2, default=None,
                        metavar=('H', 'W'),
                        help='size for FLOPs (default: derive.input_size '
                        'or 1024 2048)')
    parser.add_argument('--target-window', type=float, default=None,
                        help='fit the derived cost (FLOPs, or latency for a '
                        'latency-only search) to within this relative window '
                        "of the search's target by switching the least "
                        'certain blocks (default: derive.target_window of '
                        'CONFIG; absent: the argmax as is, as the paper)')
    parser.add_argument('--overwrite', action='store_true')
    parser.add_argument('--measure-latency', action='store_true',
                        help='time the derived network end to end as the '
                        "search's latency table was built (backend, threads, "
                        'size) and print it beside the predicted latency')
    return parser.parse_args(argv)


def refuse_untrained(config: str) -> None:
    """Exit when CONFIG searched in a mode without arch step ('uniform',
    SPOS): the argmax of alpha/beta it never trained is their initial
    noise, not a searched architecture."""
    from mmengine.config import Config

    from attnas_mmseg.engine.config_checks import config_search_modes
    from attnas_mmseg.search.space.search_modes import NO_ARCH_STEP_MODES
    parts = [field for field, mode in config_search_modes(
        Config.fromfile(config)).items() if mode in NO_ARCH_STEP_MODES]
    if parts:
        sys.exit(f'derive_arch: error: {config} searches {", ".join(parts)}'
                 " with search_mode='uniform' (SPOS), which never trains "
                 'alpha/beta: their argmax is the initial noise, not a '
                 'searched architecture; find the architecture on the '
                 'trained supernet with tools/search_subnet.py '
                 '(evolutionary search)')


def main(argv=None):
    args = parse_args(argv)
    refuse_untrained(args.config)
    try:
        spec = export_derived(args.config, args.checkpoint, args.out_dir,
                              topk=args.topk, overwrite=args.overwrite,
                              input_size=args.input_size,
                              target_window=args.target_window)
    except (ValueError, FileExistsError) as err:
        sys.exit(f'derive_arch: error: {err}')
    meta = spec.meta
    print(f'derived: {spec}')
    print(f'FLOPs (paper convention) {meta["flops_paper_G"]:.2f}G, complete '
          f'{meta["flops_complete_G"]:.2f}G, params {meta["params_M"]:.2f}M '
          f'at {meta["input_size"][0]}x{meta["input_size"][1]}')
    search = meta.get('search', {})
    if search.get('flops_derived_G') is not None:
        target, derived = search['flops_target_G'], search['flops_derived_G']
        h, w = search['flops_input_size']
        print(f'FLOPs target {target:.2f}G vs derived {derived:.2f}G at '
              f'{h}x{w} ({100 * (derived / target - 1):+.1f}%; '
              + ('FLOPs not steered: flops_weight 0)'
                 if search.get('flops_weight') == 0 else
                 f'L_flops {search["flops_loss_mode"]}, FLOPs_pred '
                 f'{search["flops_pricing"]})'))
    if search.get('latency_derived_pred_ms') is not None:
        line = (f'latency predicted {search["latency_derived_pred_ms"]:.2f}'
                f' ms (table {search["latency_lut"]})')
        if search.get('latency_target_ms'):
            line += f', target {search["latency_target_ms"]:.2f} ms'
        if args.measure_latency:
            from mmengine.config import Config

            from attnas_mmseg.models import apply_arch
            from attnas_mmseg.deploy.latency_measure import time_network
            from attnas_mmseg.search.cost.latency_table import LatencyLUT
            measured = time_network(
                apply_arch(Config.fromfile(args.config).model.to_dict(), spec),
                LatencyLUT.load(search['latency_lut']).settings, runs=10,
                warmup=3)['median_ms']
            line += f', measured {measured:.2f} ms'
        print(line)
    if search.get('fit') is not None:
        print(fit_line(search['fit']))
    print_confidence(search, meta['topk'])
    print(f'wrote {osp.join(args.out_dir, "arch.json")} and '
          f'{osp.join(args.out_dir, "retrain.py")}')


def fit_line(fit: dict) -> str:
    """What fitting the derived network to the target did; when the window
    is out of reach, the closest cost and what bounds it."""
    unit = 'G FLOPs' if fit['unit'] == 'G' else ' ms'
    low, high = (fit['target'] * (1 + s * fit['window']) for s in (-1, 1))
    moves = ', '.join(
        f'block {m["block"]} op {m["op_from"]}->{m["op_to"]} (logit gap '
        f'{m["logit_gap"]:.3f})' for m in fit['switches'])
    line = (f'argmax network {fit["argmax"]:.2f}{unit} against the target '
            f'{fit["target"]:.2f}{unit} (window {100 * fit["window"]:g}%: '
            f'{low:.2f}-{high:.2f}): ')
    if fit['reached']:
        return line + (f'fitted to {fit["fitted"]:.2f}{unit}, within the '
                       f'window, by switching {moves}' if moves else
                       'already within, no switch needed')
    line += (f'the window cannot be reached; closest {fit["fitted"]:.2f}'
             f'{unit}' + (f' by switching {moves}' if moves else
                          ', no switch brings it closer') + '; ')
    head = fit['fixed'] + fit['attention']
    if fit['fitted'] > high and head > high:
        return line + (
            f'the derived attention set alone costs {fit["attention"]:.2f}'
            f'{unit} and the parts not searched {fit["fixed"]:.2f}{unit}: '
            f'{head:.2f}{unit} before any backbone block, above the window '
            '(a smaller --topk or a higher target)')
    if fit['fitted'] > high and fit['cheapest'] > high:
        return line + (f'with every block at its cheapest op the network '
                       f'still costs {fit["cheapest"]:.2f}{unit}')
    if fit['fitted'] < low and fit['dearest'] < low:
        return line + (f'with every block at its dearest op the network '
                       f'costs only {fit["dearest"]:.2f}{unit}')
    return line + ('no single switch lands inside the window (the ops\' '
                   'costs step over it) and blocks are not switched back')


def print_confidence(search: dict, topk: int) -> None:
    """The confidence table of the final alpha/beta; a warning naming the
    choices that are within noise (attnas_mmseg/search/confidence.py)."""
    import torch

    from attnas_mmseg.search.confidence import confidence_table
    beta = torch.tensor(search['beta'])
    if topk >= beta.numel():
        return
    alpha = None if search['alpha'] is None else torch.tensor(
        search['alpha'])
    text, uncertain = confidence_table(alpha, beta, topk,
                                       search.get('noise_sigma'))
    print(text)
    if uncertain:
        print(f'derive_arch: warning: {len(uncertain)} choice(s) are within '
              f'the noise of {search.get("arch_steps")} arch steps: '
              f'{", ".join(uncertain)}; a longer search (or another seed) '
              'may change them (tools/compare_searches.py compares runs)')
    print('derive_arch: note: "clear" tests one run against uncorrelated '
          'noise; on CamVid, choices clear in one run were contradicted in '
          'another (docs/design.md, "Why alpha does not separate"): trust a '
          'choice that several seeds agree on (tools/compare_searches.py)')


if __name__ == '__main__':
    main()
