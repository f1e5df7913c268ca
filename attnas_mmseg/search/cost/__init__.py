"""What a network costs: per-candidate cost tables (FLOPs or latency), the
differentiable FLOPs_pred (§3.3.2) and the cost term of Eq. (3)-(4)."""
