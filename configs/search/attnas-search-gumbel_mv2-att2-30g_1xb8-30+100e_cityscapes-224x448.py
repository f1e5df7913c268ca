# The AttNAS-S search (s-mv2-att2, 30G target) in the sampled-path mode
# (beyond the paper; attnas_mmseg/search/search_modes.py): each step runs one
# op per block and the top-4 sampled attention cells, GDAS-style, so a step
# costs about one network instead of the whole supernet
# (docs/benchmarks.md, "Search step"). Derivation, FLOPs_pred and resume are
# those of the 'darts' search.
_base_ = './attnas-search_mv2-att2-30g_1xb8-30+100e_cityscapes-224x448.py'
model = dict(
    backbone=dict(search_mode='gumbel', tau=1.0),
    decode_head=dict(search_mode='gumbel', sample_topk=4, tau=1.0))
# each rank's weight step leaves the ops it did not sample without gradient
# (mmengine's runner and the CPU wrapper of tools/train.py both read this)
find_unused_parameters = True
