# MMSeg's runtime, logging by epoch (the AttNAS schedules are epoch-based).
_base_ = 'mmseg::_base_/default_runtime.py'
log_processor = dict(by_epoch=True)
