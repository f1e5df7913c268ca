# Search s-mv2-att3 (Table 2): 3 attention layer(s), FLOPs target 30G.
_base_ = './attnas-search_mv2-att2-30g_1xb8-30+100e_cityscapes-224x448.py'
model = dict(decode_head=dict(num_layers=3))
