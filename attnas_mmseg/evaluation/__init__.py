"""Scoring networks of the search space: subnets evaluated with the
supernet's inherited weights, zero-cost proxies, and how well a way of
scoring ranks networks against a trained ground truth (issues 17, 18)."""
from .ground_truth import GroundTruth, check_ground_truth, load_ground_truth
from .scorers import (SCORERS, ScoreContext, arch_log_prob, load_batch,
                      score_all)
from .subnet_search import CANDIDATES_FILE, STATE_FILE, search_subnet
from .subnet_evaluator import (DEFAULT_CALIB_BATCHES, SPLITS, SubnetEvaluator,
                               evaluate_subnet, recalibrate_bn)
from .zero_cost import grad_norm, naswot, random_network, synflow

__all__ = [
    'CANDIDATES_FILE', 'STATE_FILE', 'search_subnet', 'DEFAULT_CALIB_BATCHES', 'GroundTruth', 'SCORERS', 'SPLITS',
    'ScoreContext', 'SubnetEvaluator', 'arch_log_prob', 'check_ground_truth',
    'evaluate_subnet', 'grad_norm', 'load_batch', 'load_ground_truth',
    'naswot', 'random_network', 'recalibrate_bn', 'score_all', 'synflow'
]
