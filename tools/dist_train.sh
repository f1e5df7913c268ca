#!/usr/bin/env bash
# Distributed training on one or more nodes: CONFIG GPUS [train.py args...]
# One node: the launcher binds a free rendezvous port itself (PORT=... fixes one).
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node.
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
if [ -z "${PORT:-}" ] && [ "$NNODES" -eq 1 ]; then
    RENDEZVOUS=(--standalone)
else
    RENDEZVOUS=(--master_addr="$MASTER_ADDR" --master_port="${PORT:-29500}")
fi

PYTHONPATH="$(dirname "$0")/..":${PYTHONPATH:-} \
python -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    "${RENDEZVOUS[@]}" \
    --nproc_per_node="$GPUS" \
    "$(dirname "$0")/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
