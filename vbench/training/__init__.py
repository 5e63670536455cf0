"""Training: one recipe for every method, DREAL as an option, DDP through torchrun."""
