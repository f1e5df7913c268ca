"""How much of the arch gradient on alpha is the cost term's?

    python benchmarks/arch_gradient_share.py SEARCH_CONFIG CHECKPOINT
        [--out docs/results/.../gradient_share.json]

A search whose alpha does not separate could be held back by its cost term
(Eq. 3-4): with ``flops_loss_mode='abs'`` and the derived pricing, the FLOPs
of the network derived now cross the target again and again, so the cost
gradient flips sign, and Adam divides every step by the running RMS of the
*whole* gradient: a large, sign-flipping cost gradient would both add a
random walk and shrink the task loss' steps. This script measures whether
that is the case for a finished search, from its checkpoint alone:

* the RMS of the whole arch gradient on each alpha entry over the search,
  from the arch optimiser's bias-corrected second moment (Adam's
  ``exp_avg_sq / (1 - beta2**t)``, an average of g**2 over the steps with
  weights beta2**(t-s): about uniform for t << 1 / (1 - beta2) = 1000);
* the cost term's gradient, ``flops_weight * d L_flops / d alpha``, at the
  final alpha/beta, with the search's own settings (target, loss mode,
  pricing, top-k, input size: the hook's ``settings`` in the checkpoint) on
  the search config's supernet's FLOPs table.

Their ratio is the cost term's share of the step size Adam gives alpha. It
prints both (mean and median over the 17x6 entries) and writes them as JSON
with ``--out``. CPU, one process, seconds.
"""
import argparse
import json
import os.path as osp
import statistics
import sys
from typing import Any, Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)


def arch_state(checkpoint: Dict[str, Any], shape) -> Dict[str, Any]:
    """The arch optimiser's Adam state of the one parameter of ``shape``."""
    opt = checkpoint['optimizer']['arch']
    found = [s for s in opt['state'].values()
             if tuple(s['exp_avg_sq'].shape) == tuple(shape)]
    if len(found) != 1:
        raise ValueError(f'checkpoint: expected one arch parameter of shape '
                         f'{tuple(shape)} in the arch optimiser, found '
                         f'{len(found)}')
    return dict(found[0], beta2=opt['param_groups'][0]['betas'][1])


def measure(config: str, checkpoint_path: str) -> Dict[str, Any]:
    import torch

    from attnas_mmseg.export import load_search_checkpoint
    from attnas_mmseg.models import build_segmentor
    from attnas_mmseg.search import FLOPS_PER_G, build_flops_table, cost_loss
    ckpt, alpha, beta = load_search_checkpoint(checkpoint_path)
    if alpha is None:
        raise ValueError(f'checkpoint: {checkpoint_path} searched no backbone '
                         '(no alpha)')
    settings = (ckpt.get('arch_update_hook') or {}).get('settings')
    if not settings:
        raise ValueError(f'checkpoint: {checkpoint_path} holds no '
                         'ArchUpdateHook settings (a search checkpoint of '
                         'this version is needed)')
    state = arch_state(ckpt, alpha.shape)
    steps = float(state['step'])
    v = state['exp_avg_sq'] / (1 - state['beta2'] ** steps)
    rms = v.sqrt()

    model = build_segmentor(config, device='meta')
    table = build_flops_table(model, tuple(settings['flops_input_size']))
    alpha = alpha.detach().clone().requires_grad_()
    loss = settings['flops_weight'] * cost_loss(
        table.predict(alpha, beta.detach(), settings['flops_pricing'],
                      settings['topk']),
        settings['flops_target_G'] * FLOPS_PER_G, settings['flops_loss_mode'])
    cost, = torch.autograd.grad(loss, [alpha])
    cost = cost.abs()

    def stats(t) -> Dict[str, float]:
        values = t.flatten().tolist()
        return dict(mean=statistics.mean(values),
                    median=statistics.median(values))

    return dict(config=config, checkpoint=checkpoint_path,
                arch_steps=int(steps), settings=settings,
                rms_arch_grad=stats(rms), cost_grad=stats(cost),
                share=stats(cost / rms.clamp(min=1e-12)))


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', default=None)
    args = parser.parse_args(argv)
    result = measure(args.config, args.checkpoint)
    print(f'{result["arch_steps"]} arch steps; alpha entries (mean / '
          f'median):\n'
          f'  RMS of the whole arch gradient  '
          f'{result["rms_arch_grad"]["mean"]:.2e} / '
          f'{result["rms_arch_grad"]["median"]:.2e}\n'
          f'  |cost-term gradient| at the end '
          f'{result["cost_grad"]["mean"]:.2e} / '
          f'{result["cost_grad"]["median"]:.2e}\n'
          f'  share of the cost term          '
          f'{result["share"]["mean"]:.3f} / {result["share"]["median"]:.3f}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main()
