# Short name for AttNAS-S retrained on Cityscapes (Table 2, Table 4a).
_base_ = './attnas/attnas-s_mv2_4xb2-200e_cityscapes-512x1024.py'
