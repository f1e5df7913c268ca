"""Test-only hook: each rank saves its alpha/beta after training (DDP test)."""
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
