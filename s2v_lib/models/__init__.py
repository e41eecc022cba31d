"""Neural networks of the study, one model per file."""


def fp32_rnn(rnn, x):
    """Run a recurrent layer in float32 even inside an autocast region: cuDNN RNNs autocast to fp16 (not
    bf16) and without a GradScaler their gradients underflow. Outside autocast this is rnn(x) unchanged."""
    import torch
    if not torch.is_autocast_enabled(x.device.type):
        return rnn(x)
    with torch.autocast(x.device.type, enabled=False):
        return rnn(x.float())
