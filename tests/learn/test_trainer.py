"""Trainer, checkpoints, plots and the train command, on tiny offline data (seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import einlog
from einlog.data import addition_dataset, load_digits_8x8
from einlog.errors import CheckpointError
from einlog.learn import Trainer, load_checkpoint, save_checkpoint, seed_everything
from einlog.learn.cli import train_command
from einlog.learn.trainer import QueryData, nll_loss
from einlog.neural import DigitNet8x8

ADDITION = """
nn(mnist_net, [X], Y, [0,1,2,3,4,5,6,7,8,9]) :: digit(X, Y).
addition(X, Y, Z) :- digit(X, X2), digit(Y, Y2), Z is X2 + Y2.
"""


def make(seed: int = 0, text: str = ADDITION) -> tuple[einlog.Program, DigitNet8x8]:
    torch.manual_seed(seed)
    net = DigitNet8x8()
    return einlog.Program.from_string(text, networks={"mnist_net": net}), net


def test_training_reduces_the_loss() -> None:
    torch.set_num_threads(1)
    prog, _ = make()
    train = addition_dataset(load_digits_8x8("train"), 1)
    trainer = Trainer(prog, "addition(A, B, S)", lr=3e-3, seed=0, progress=False)
    before = trainer.evaluate(train, record=False)["loss"]
    trainer.fit(train, epochs=2, batch_size=16, max_steps=60)
    after = trainer.evaluate(train, record=False)["loss"]
    assert trainer.step == 60
    assert after < before - 0.2, (before, after)


def test_nll_is_finite_for_impossible_answers() -> None:
    lp = torch.tensor([-torch.inf, -0.5], requires_grad=True)
    loss = nll_loss(lp)
    assert torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(lp.grad).all()  # type: ignore[union-attr]


def test_checkpoint_restores_exactly(tmp_path: Path) -> None:
    prog, net = make(0, ADDITION + "t(0.3)::bonus.\n")
    train = addition_dataset(load_digits_8x8("train"), 1, size=64)
    trainer = Trainer(prog, "addition(A, B, S)", seed=1, progress=False)
    trainer.fit(train, epochs=1, batch_size=16)
    path = trainer.save_checkpoint(tmp_path / "ck.pt")
    state = {k: v.clone() for k, v in net.state_dict().items()}
    param = prog.parameters[0].detach().clone()

    prog2, net2 = make(5, ADDITION + "t(0.3)::bonus.\n")
    with torch.no_grad():
        prog2.parameters[0].fill_(0.9)
    trainer2 = Trainer(prog2, "addition(A, B, S)", seed=1, progress=False)
    trainer2.load_checkpoint(path)
    for k, v in net2.state_dict().items():
        assert torch.equal(v, state[k]), k
    assert torch.equal(prog2.parameters[0].detach(), param)
    assert trainer2.step == trainer.step and trainer2.history == trainer.history
    # the next step is the same in both runs (optimizer state restored too)
    batch = train.batch(torch.arange(8))
    r1, r2 = trainer.train_step(batch), trainer2.train_step(batch)
    assert r1["loss"] == r2["loss"]
    for (k, a), b in zip(net.state_dict().items(), net2.state_dict().values()):
        assert torch.equal(a, b), k


def test_checkpoint_from_another_program_is_refused(tmp_path: Path) -> None:
    prog, _ = make()
    path = save_checkpoint(tmp_path / "ck.pt", prog)
    other, _ = make(0, ADDITION + "extra(X) :- digit(X, 0).\n")
    with pytest.raises(CheckpointError, match="different program"):
        load_checkpoint(path, other)


def test_checkpoint_is_plain_data_and_bad_files_are_refused(tmp_path: Path) -> None:
    prog, _ = make()
    path = save_checkpoint(tmp_path / "ck.pt", prog)
    data = torch.load(path, weights_only=True)
    assert data["format"] == "einlog-checkpoint"
    bad = tmp_path / "bad.pt"
    torch.save({"net": DigitNet8x8()}, bad)  # a pickled module: would run code on load
    with pytest.raises(CheckpointError, match="not a loadable einlog checkpoint"):
        load_checkpoint(bad, prog)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        load_checkpoint(junk, prog)


def test_plot_and_checkpoint_dir(tmp_path: Path) -> None:
    prog, _ = make()
    train = addition_dataset(load_digits_8x8("train"), 1, size=32)
    test = addition_dataset(load_digits_8x8("test"), 1, size=32)
    trainer = Trainer(prog, "addition(A, B, S)", seed=0, progress=True)
    trainer.fit(train, epochs=1, batch_size=16, eval_data=test, checkpoint_dir=tmp_path)
    assert (tmp_path / "last.pt").exists()
    png = tmp_path / "training.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [r["kind"] for r in trainer.history].count("eval") == 1


def test_seeded_runs_are_identical() -> None:
    losses = []
    for _ in range(2):
        seed_everything(3)
        prog, _ = make(3)
        train = addition_dataset(load_digits_8x8("train"), 1, size=48)
        trainer = Trainer(prog, "addition(A, B, S)", seed=3, progress=False)
        trainer.fit(train, epochs=1, batch_size=16)
        losses.append([r["loss"] for r in trainer.history])
    assert losses[0] == losses[1]


def test_any_optimizer_and_deepproblog_style_data() -> None:
    prog, _ = make()
    digits = load_digits_8x8("train")
    queries = [f"addition(tensor(train({2 * i})), tensor(train({2 * i + 1})), "
               f"{int(digits.labels[2 * i] + digits.labels[2 * i + 1])})" for i in range(24)]
    data = QueryData(queries, {"train": digits})
    trainer = Trainer(prog, optimizer=torch.optim.SGD, lr=0.1, seed=0, progress=False)
    trainer.fit(data, epochs=1, batch_size=8)
    assert trainer.step == 3
    assert all(r["size"] == 8 for r in trainer.history)


def test_train_command_with_toml_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    (tmp_path / "addition.pl").write_text(ADDITION)
    (tmp_path / "exp.toml").write_text(
        'program = "addition.pl"\n'
        '[networks.mnist_net]\nclass = "einlog.neural:DigitNet8x8"\n'
        '[data]\ndataset = "digits"\ntrain_size = 32\ntest_size = 16\n'
        f'[training]\nepochs = 1\nbatch_size = 16\noutput = "{tmp_path / "out"}"\n'
    )
    assert train_command(str(tmp_path / "exp.toml"), []) == 0
    assert "test accuracy" in capsys.readouterr().out
    assert (tmp_path / "out" / "last.pt").exists()


def test_train_command_runs_a_script(tmp_path: Path) -> None:
    script = tmp_path / "exp.py"
    script.write_text("import sys\nopen(sys.argv[1], 'w').write('ran')\n")
    assert train_command(str(script), [str(tmp_path / "flag")]) == 0
    assert (tmp_path / "flag").read_text() == "ran"


def test_default_optimizer_is_adam_with_the_fused_kernel_on_cpu() -> None:
    from einlog.learn.trainer import default_optimizer

    net = torch.nn.Linear(3, 2)
    opt = default_optimizer(list(net.parameters()), lr=1e-3)
    assert isinstance(opt, torch.optim.Adam)
    assert opt.defaults["lr"] == 1e-3 and opt.defaults["fused"] is True
    net(torch.ones(4, 3)).sum().backward()
    before = net.weight.detach().clone()
    opt.step()
    assert not torch.equal(before, net.weight)
