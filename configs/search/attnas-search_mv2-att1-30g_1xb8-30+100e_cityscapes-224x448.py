# Search s-mv2-att1 (Table 2): 1 attention layer(s), FLOPs target 30G.
_base_ = './attnas-search_mv2-att2-30g_1xb8-30+100e_cityscapes-224x448.py'
model = dict(decode_head=dict(num_layers=1))
