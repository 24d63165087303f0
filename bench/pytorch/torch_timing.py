"""Timing loops shared by the PyTorch peer benchmarks.

Import only after bench_common.configure_threads_from_argv() has run, because this module loads torch.
"""

import itertools
import math
import sys
import time

import torch

import bench_common


def relative_l2_sum(prediction, target):
    """Return sum over the batch of ||p_b - y_b||_2 / ||y_b||_2, each sample flattened."""
    batch = prediction.shape[0]
    difference = (prediction - target).reshape(batch, -1).norm(dim=1)
    return (difference / target.reshape(batch, -1).norm(dim=1)).sum()


def mean_squared_error(prediction, target):
    """Return the mean of (p - y)^2 over all entries."""
    return torch.mean((prediction - target) ** 2)


def train_steps(model, optimizer, loss_function, batches, step_seconds=None):
    """Run one Adam step per (inputs, target) batch and return the summed loss as a float.

    `inputs` is one tensor or a tuple of tensors passed as positional arguments. The loss is
    read back once per step with .item(), as a training loop that logs it does. When
    step_seconds is a list, the wall time of each step is appended to it.
    """
    total = 0.0
    for inputs, target in batches:
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        prediction = model(*inputs) if isinstance(inputs, tuple) else model(inputs)
        loss = loss_function(prediction, target)
        loss.backward()
        optimizer.step()
        total += loss.item()
        if step_seconds is not None:
            step_seconds.append(time.perf_counter() - start)
    return total


def time_training(model, optimizer, loss_function, batches, steps_per_run, warmup, repeats):
    """Time `repeats` runs of `steps_per_run` training steps after `warmup` untimed runs.

    The runs cycle through `batches`. Returns (run_seconds, step_seconds): the wall time of
    each run and of each single step in the timed runs. The minimum step time is the least
    disturbed by other processes on a shared machine. A non-finite loss stops the program
    because a diverged model can take a different (denormal or NaN) code path.
    """
    cycle = itertools.cycle(batches)

    def next_run():
        return [next(cycle) for _ in range(steps_per_run)]

    for _ in range(warmup):
        train_steps(model, optimizer, loss_function, next_run())
    run_seconds = []
    step_seconds = []
    for _ in range(repeats):
        run_batches = next_run()
        start = time.perf_counter()
        loss = train_steps(model, optimizer, loss_function, run_batches, step_seconds)
        run_seconds.append(time.perf_counter() - start)
        if not math.isfinite(loss):
            sys.exit(f"training loss became {loss}; the timing would not be representative")
    return run_seconds, step_seconds


def time_inference(model, inputs, warmup, repeats):
    """Return the wall time in seconds of each of `repeats` forward passes under inference_mode.

    `inputs` is one tensor or a tuple of tensors passed as positional arguments.
    """
    arguments = inputs if isinstance(inputs, tuple) else (inputs,)
    seconds = []
    with torch.inference_mode():
        for _ in range(warmup):
            model(*arguments)
        for _ in range(repeats):
            start = time.perf_counter()
            model(*arguments)
            seconds.append(time.perf_counter() - start)
    return seconds


def profile_op_share(model, optimizer, loss_function, batches, inference_inputs, steps, name_fragments):
    """Profile `steps` training steps and `steps` inference passes.

    Returns, for each, the share of profiled op time in ops whose names contain one of
    name_fragments (see bench_common.summarize_profile).
    """
    activities = [torch.profiler.ProfilerActivity.CPU]
    step_batches = list(itertools.islice(itertools.cycle(batches), steps))
    arguments = inference_inputs if isinstance(inference_inputs, tuple) else (inference_inputs,)

    with torch.profiler.profile(activities=activities) as training_profile:
        start = time.perf_counter()
        train_steps(model, optimizer, loss_function, step_batches)
        training_wall = time.perf_counter() - start

    with torch.profiler.profile(activities=activities) as inference_profile:
        start = time.perf_counter()
        with torch.inference_mode():
            for _ in range(steps):
                model(*arguments)
        inference_wall = time.perf_counter() - start

    return {
        "training": bench_common.summarize_profile(training_profile, name_fragments, training_wall, steps),
        "inference": bench_common.summarize_profile(inference_profile, name_fragments, inference_wall, steps),
    }


def count_real_parameters(model):
    """Return the number of real scalars in the model's parameters, counting a complex one as two."""
    return sum(parameter.numel() * (2 if parameter.is_complex() else 1) for parameter in model.parameters())
