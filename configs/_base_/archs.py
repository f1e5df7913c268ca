# The searched architectures of Table 2, in the paper's notation; the one
# place these codes are written. A config lists this file in `_base_` and
# reads a code as `{{_base_.paper_archs.attnas_s.backbone}}` (mmengine shares
# values between config files only through `_base_`); the backbone and head
# validate the code (ArchSpec) when the model is built. `backbone` indexes the
# six ops of each of the 17 blocks (kernel-major order, docs/design.md),
# `attention` the Att1-Att13 candidates of Table 1 in each attention layer.
paper_archs = dict(
    s_mv2_att1=dict(
        backbone='mv2(2,3,5,6,4,6,3,1,1,4,3,1,1,6,1,1,6)',
        attention='AttSet1(7,8,11,12)'),
    attnas_s=dict(  # s-mv2-att2, 30G target
        backbone='mv2(3,3,2,3,2,3,2,3,2,6,3,6,5,3,2,5,1)',
        attention='AttSet1(12,13)+AttSet2(3,7)'),
    attnas_l=dict(  # s-mv2-att2, 40G target
        backbone='mv2(2,2,2,3,3,3,3,1,3,2,3,1,1,3,3,2,2)',
        attention='AttSet1(7,8,13)+AttSet2(7)'),
    s_mv2_att3=dict(
        backbone='mv2(1,1,2,1,1,1,1,1,1,2,1,1,1,1,1,2,1)',
        attention='AttSet1(8,13)+AttSet2(8)+AttSet3(7)'))
