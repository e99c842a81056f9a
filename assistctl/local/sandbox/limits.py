"""The resource limits of one code-interpreter session, with defaults that suit a model's work."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one session may use. Each limit is enforced by the kernel, not by trusting the code.

    ``memory_bytes`` caps every process's address space (``RLIMIT_AS``) and, where cgroups are
    available, the whole sandbox's memory. ``max_processes`` counts processes and threads
    (``RLIMIT_NPROC`` under the session's own uid, and the cgroup ``pids`` controller).
    ``file_bytes`` is the largest file the code can write (``RLIMIT_FSIZE``) and so the largest
    output file. ``output_bytes`` caps the logs of one execution; the rest is dropped. ``cpus``
    is the share of cores the whole sandbox may use, background work included (cgroups only).
    """

    wall_seconds: float = 60.0
    memory_bytes: int = 2048 * MIB
    max_processes: int = 128
    cpus: float = 1.0
    file_bytes: int = 256 * MIB
    output_bytes: int = 64 * 1024
    max_output_files: int = 32
    idle_seconds: float = 20 * 60.0
    startup_seconds: float = 60.0

    def __post_init__(self) -> None:
        for name in ("wall_seconds", "idle_seconds", "startup_seconds", "cpus"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Limits.{name} must be positive")
        if self.memory_bytes < 256 * MIB:
            raise ValueError("Limits.memory_bytes must be at least 256 MiB (a kernel needs it)")
        if self.max_processes < 32:
            raise ValueError("Limits.max_processes must be at least 32 (a kernel runs threads)")
        for name in ("file_bytes", "output_bytes", "max_output_files"):
            if getattr(self, name) < 1:
                raise ValueError(f"Limits.{name} must be at least 1")
