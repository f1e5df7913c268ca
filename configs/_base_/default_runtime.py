# MMSeg's runtime, logging by epoch (the AttNAS schedules are epoch-based).
_base_ = 'mmseg::_base_/default_runtime.py'
log_processor = dict(by_epoch=True)
# One seed for every run: the same command on the same machine gives the same
# search and the same retrain (a search's RandomStateHook also makes a resumed
# run continue the uninterrupted one's random stream).
randomness = dict(seed=0, deterministic=False)
