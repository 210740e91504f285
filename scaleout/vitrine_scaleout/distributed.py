"""Process group, ranks and the gradient-keeping all-gather.

`torchrun` sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; without them the twin
runs as one process (world size 1, no process group). The backend is NCCL on CUDA and gloo on CPU;
`--timeout SECONDS` is the process group's timeout, so a collective that waits on a lost rank fails
after it instead of hanging.
"""

from __future__ import annotations

import datetime
import os

import torch
import torch.distributed as dist


class Context:
    def __init__(self, rank: int = 0, world: int = 1, local_rank: int = 0, device: torch.device = torch.device("cpu")):
        self.rank, self.world, self.local_rank, self.device = rank, world, local_rank, device

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device_name: str, timeout: float) -> Context:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_name == "auto":
        device_name = "cuda" if torch.cuda.is_available() else "cpu"
    if device_name == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("--device cuda: this torch build sees no CUDA device (install the CUDA build of torch, "
                               "or use --device cpu)")
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if world > 1:
        backend = "nccl" if device.type == "cuda" else "gloo"
        kwargs = dict(backend=backend, timeout=datetime.timedelta(seconds=timeout))
        if device.type == "cuda":
            kwargs["device_id"] = device
        dist.init_process_group(**kwargs)
    return Context(rank, world, local_rank, device)


def teardown(ctx: Context) -> None:
    if ctx.distributed and dist.is_initialized():
        try:
            dist.destroy_process_group()
        except Exception:
            pass


def all_reduce_sum(ctx: Context, values: list) -> list:
    """Sums floats over ranks (float64)."""
    if not ctx.distributed:
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_collective_device(ctx))
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def all_reduce_max_int(ctx: Context, value: int) -> int:
    if not ctx.distributed:
        return int(value)
    t = torch.tensor([int(value)], dtype=torch.int64, device=_collective_device(ctx))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())


def _collective_device(ctx: Context) -> torch.device:
    return ctx.device if ctx.device.type == "cuda" else torch.device("cpu")


class _GatherWithGradient(torch.autograd.Function):
    """all_gather forward (rows of every rank, rank order); backward: the gradient with respect to the
    whole gathered tensor is summed over ranks (every rank's loss used every row) and this rank's
    rows of that sum are returned."""

    @staticmethod
    def forward(ctx, x, sizes, rank):
        ctx.sizes, ctx.rank = sizes, rank
        biggest = max(sizes)
        padded = x if x.shape[0] == biggest else torch.cat([x, x.new_zeros((biggest - x.shape[0],) + tuple(x.shape[1:]))])
        parts = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(parts, padded.contiguous())
        return torch.cat([p[:n] for p, n in zip(parts, sizes)])

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = sum(ctx.sizes[:ctx.rank])
        return grad[start:start + ctx.sizes[ctx.rank]], None, None


def gather_rows(ctx: Context, x: torch.Tensor, sizes: list, mode: str = "grad") -> torch.Tensor:
    """The rows of `x` from every rank, in rank order. `sizes`: each rank's row count.

    mode "grad": gradients flow back to every rank's rows (the twin's way); "nograd": the other
    ranks' rows are constants (a common mistake, kept to show the difference in tests); "none": no
    gathering at all (local negatives only)."""
    if not ctx.distributed or mode == "none":
        return x
    if mode == "grad":
        return _GatherWithGradient.apply(x, list(sizes), ctx.rank)
    with torch.no_grad():
        everything = _GatherWithGradient.apply(x.detach(), list(sizes), ctx.rank)
    start = sum(sizes[:ctx.rank])
    return torch.cat([everything[:start], x, everything[start + sizes[ctx.rank]:]])
