import json
import subprocess
import sys
import time

import numpy as np
import psutil
from matplotlib.image import imread
from snakemake_runner import HANG_GUARD_S

from janusfit.plots import memory_plot
from janusfit.resources.monitor import MemoryMonitor
from janusfit.resources.runtime import RUNTIME_KEY
from janusfit.resources.usage import run_resources

ALLOC_MB = 200


def wait_for(condition, what):
    """Wait for the sampling thread, however loaded the machine, rather than sleep a fixed time."""
    deadline = time.monotonic() + HANG_GUARD_S
    while not condition():
        assert time.monotonic() < deadline, f"no sample showed {what} within {HANG_GUARD_S} s"
        time.sleep(0.01)


def test_peak_rises_with_an_allocation():
    with MemoryMonitor(interval_s=0.02) as mon:
        start = mon.peak_mb
        block = np.ones(ALLOC_MB * 1_000_000 // 8)  # np.ones touches every page
        wait_for(lambda: mon.peak_mb - start >= 150 and len(mon.series) >= 3, "the allocation")
        del block
    assert mon.peak_mb - start >= 150
    assert len(mon.series) >= 3
    assert all(t1 >= t0 for (t0, _), (t1, _) in zip(mon.series, mon.series[1:]))


def test_children_are_counted():
    code = (
        "import numpy as np, sys, time\n"
        f"a = np.ones({ALLOC_MB * 1_000_000 // 8})\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n"
    )
    with MemoryMonitor(interval_s=0.02) as mon:
        start = mon.peak_mb
        child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "ready"
            wait_for(lambda: mon.peak_mb - start >= 150, "the child's allocation")
        finally:
            child.stdin.close()
            child.wait(timeout=30)
        time.sleep(0.1)  # samples after the child has gone must not fail
    assert mon.peak_mb - start >= 150


def test_series_stays_bounded_and_keeps_the_peak():
    with MemoryMonitor(interval_s=0.001, max_points=16) as mon:
        time.sleep(0.2)
    assert len(mon.series) <= 16
    assert mon.peak_mb >= max(mb for _, mb in mon.series)


def test_write_the_record(tmp_path):
    started = time.monotonic()
    with MemoryMonitor(interval_s=0.02) as mon:
        time.sleep(0.1)
    waited = time.monotonic() - started
    held = psutil.Process().memory_info().rss / 1e6
    returned = mon.write(tmp_path / "mem.json", estimate_mb=500.0, machine_mb=24000)
    record = json.loads((tmp_path / "mem.json").read_text())
    assert record == returned
    assert record["peak_rss_mb"] == round(mon.peak_mb, 1)
    # The kernel's high-water mark of this process: at least what it held before the record.
    assert record["process_maxrss_mb"] >= held - 1
    assert record["estimate_mb"] == 500.0 and record["machine_mb"] == 24000
    assert record["interval_s"] == 0.02
    assert 0.1 <= record["duration_s"] == round(mon.duration_s, 2) <= round(waited, 2)
    # This process started before the monitor did.
    assert record["job_wall_s"] == round(mon.job_wall_s, 2) > record["duration_s"]
    assert len(record["series"]) == len(mon.series) and len(record["series"][0]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mem.json"]


def test_the_figure_gives_the_peak_the_summary_gives(tmp_path):
    """A spike between two samples is in the high-water mark only; the figure called the samples' highest "peak".

    The report and summary.json give the higher of the two, so one job had two peaks (245 and 274 MB).
    """
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from janusfit.resources.monitor import MemoryMonitor\n"
        "with MemoryMonitor(interval_s=60) as mon:\n"
        f"    block = np.ones({ALLOC_MB} * 1_000_000 // 8)\n"
        "    del block\n"
        "mon.write(sys.argv[1] + '/memory.json', estimate_mb=500.0, machine_mb=24000)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True)
    record = json.loads((tmp_path / "memory.json").read_text())
    assert record["process_maxrss_mb"] - record["peak_rss_mb"] >= 150
    (tmp_path / "resources.json").write_text(json.dumps({"emcee": {"mem_mb": 500, RUNTIME_KEY: 1.0}}))
    # The peak summary.json and the report give, and the summary job titles the figure with.
    reported = run_resources(tmp_path / "resources.json", {"emcee": tmp_path / "memory.json"})["emcee"]["peak_rss_mb"]
    fig = memory_plot(record, tmp_path / "memory.png", title="emcee on jla/lcdm", peak_mb=reported)
    assert fig.axes[0].get_title().startswith(f"emcee on jla/lcdm: peak {reported:.0f} MB of 500 MB estimated")
    shown = {line.get_label(): line.get_ydata()[0] for line in fig.axes[0].get_lines()}
    assert shown[f"high-water mark of the job process {reported:.0f} MB"] == reported
    assert imread(tmp_path / "memory.png").ndim == 3


def test_machine_memory_defaults_to_this_machine(tmp_path):
    with MemoryMonitor(interval_s=0.05) as mon:
        pass
    mon.write(tmp_path / "m.json", estimate_mb=100.0)
    assert json.loads((tmp_path / "m.json").read_text())["machine_mb"] > 100


def test_high_water_mark_is_the_jobs_own_not_its_parents():
    # A Snakemake job is started by a process that may hold far more than the job.
    block = np.ones(600 * 1_000_000 // 8)
    code = "from janusfit.resources.monitor import own_maxrss_mb; print(own_maxrss_mb())"
    child_mb = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    del block
    assert 10 < child_mb < 400
