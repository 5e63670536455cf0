"""What every layer that runs a model shares: the device, the precision, the processes, saving.

Profiling, evaluation and training all choose a device (``device``), run under autocast
at a chosen precision (``precision``), join a torchrun process group (``distributed``)
and write tensors so that an interrupted run never leaves half a file (``storage``).
Each of these is written once here; the layers above import it and never each other
for it.
"""
