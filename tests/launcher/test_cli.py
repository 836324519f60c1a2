import pytest

from launcher import cli, env as envvars, worker


def test_dashed_and_underscored_flags_and_defaults():
    config = cli.build_config(["--nproc_per_node", "3", "--max-restarts", "2", "--monitor_interval", "0.5",
                               "train.py", "--lr", "0.1"])
    assert config.nproc_per_node == 3 and config.max_restarts == 2 and config.monitor_interval == 0.5
    assert config.command[-3:] == ["train.py", "--lr", "0.1"]
    assert config.nnodes == 1 and config.master_addr == "127.0.0.1" and config.master_port == 0
    assert len(config.secret) == 64


def test_flags_from_the_environment(monkeypatch):
    monkeypatch.setenv("PET_NPROC_PER_NODE", "4")
    monkeypatch.setenv("PET_MAX_RESTARTS", "5")
    monkeypatch.setenv("PET_NO_PYTHON", "1")
    config = cli.build_config(["prog"])
    assert config.nproc_per_node == 4 and config.max_restarts == 5 and config.command == ["prog"]
    assert cli.build_config(["--nproc-per-node", "2", "prog"]).nproc_per_node == 2


def test_module_and_endpoint(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("abc\n")
    config = cli.build_config(["--rdzv-endpoint", "10.0.0.1:1234", "--nnodes", "2", "--node-rank", "1",
                               "--secret-file", str(secret_file), "-m", "pkg.train"])
    assert config.command[-2:] == ["module", "pkg.train"]
    assert (config.master_addr, config.master_port, config.node_rank) == ("10.0.0.1", 1234, 1)
    assert config.secret == "abc"
    with pytest.raises(ValueError, match="is empty"):
        cli.build_config(["--nnodes", "2", "--secret-file", "/dev/null", "t.py"])


def test_nproc_values(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    assert cli.resolve_nproc("gpu") == 2 and cli.resolve_nproc("auto") == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(ValueError, match="no GPU"):
        cli.resolve_nproc("gpu")
    assert cli.resolve_nproc("auto") >= 1 and cli.resolve_nproc("cpu") >= 1
    with pytest.raises(ValueError, match="int, auto, cpu or gpu"):
        cli.resolve_nproc("many")


@pytest.mark.parametrize("argv, message", [
    (["--nnodes", "1:4", "t.py"], "elastic"),
    (["--nnodes", "2", "t.py"], "shared secret"),
    (["--nnodes", "2", "--node-rank", "2", "t.py"], "node-rank"),
    (["-m", "--no-python", "t.py"], "cannot be combined"),
    (["--rdzv-endpoint", "nohost", "t.py"], "HOST:PORT"),
    (["--standalone", "--nnodes", "2", "t.py"], "single node"),
    (["--redirects", "3", "t.py"], "give --log-dir"),
    (["--log-dir", "/tmp", "--tee", "0:5", "t.py"], "--tee expects"),
    (["--local-ranks-filter", "a,b", "t.py"], "comma-separated"),
])
def test_invalid_command_lines(argv, message, monkeypatch):
    monkeypatch.delenv("DISTTORCH_SECRET", raising=False)
    if "node-rank" in message:
        monkeypatch.setenv("DISTTORCH_SECRET", "abc")
    with pytest.raises(ValueError, match=message):
        cli.build_config(argv)


def test_std_specs():
    assert envvars.parse_std_spec("3", "--tee")(5) == 3
    per_rank = envvars.parse_std_spec("0:1,2:3", "--redirects")
    assert (per_rank(0), per_rank(1), per_rank(2)) == (1, 0, 3)
    with pytest.raises(ValueError, match="--tee expects"):
        envvars.parse_std_spec("4", "--tee")
    assert envvars.parse_ranks_filter("0, 2") == {0, 2}


def test_worker_api_is_a_no_op_outside_the_launcher(monkeypatch):
    monkeypatch.delenv(envvars.CONTROL_ENDPOINT, raising=False)
    assert not worker.is_launched()
    worker.heartbeat()
    worker.report_progress(epoch=1, step=2, loss=0.5, samples_per_s=10.0)
    with worker.collective("allreduce"):
        pass
    worker.barrier("start")
    assert worker.restart_count() == 0
