"""Test-only hook: each rank saves its alpha/beta and its whole model state
(weights and BN buffers) after training (DDP tests)."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

from attnas_mmseg.search import named_arch_parameters


@HOOKS.register_module()
class SaveArchParamsPerRank(Hook):

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        torch.save({n: p.detach().cpu()
                    for n, p in named_arch_parameters(model)},
                   osp.join(runner.work_dir, f'arch_rank{get_rank()}.pth'))
        torch.save({n: t.detach().cpu() for n, t in model.state_dict().items()},
                   osp.join(runner.work_dir, f'state_rank{get_rank()}.pth'))
