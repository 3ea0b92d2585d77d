"""core.judge against a stand-in OpenAI-compatible server on 127.0.0.1 (a real HTTP server in a thread):
the request it receives, both orders asked, position bias cancelled, errors a person can act on, and
the key kept in the user's config folder (0600), never in the project file."""

from __future__ import annotations

import json
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core import judge as J


class _StandIn(BaseHTTPRequestHandler):
    """POST /v1/chat/completions: a judge that prefers the answer holding the reference's word ("correct"),
    or, with server.biased, always says "1" (pure position bias)."""

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if self.path != "/v1/chat/completions":
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b'{"error": "not found"}')
            return
        text = body["messages"][0]["content"]
        first = text.split("Answer 1:\n")[1].split("\n\nAnswer 2:")[0]
        second = text.split("Answer 2:\n")[1].split("\n\n")[0]
        if self.server.biased:
            verdict = "1"
        elif "Remedok" in first and "Remedok" not in second:
            verdict = "1"
        elif "Remedok" in second and "Remedok" not in first:
            verdict = "2"
        else:
            verdict = "Tie."
        reply = {"choices": [{"message": {"role": "assistant", "content": verdict}}]}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    srv.requests, srv.biased = [], False
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _judge(srv, **kw):
    return J.Judge(url=f"http://127.0.0.1:{srv.server_address[1]}/v1", model="stand-in", **kw)


PROMPTS = [{"prompt": "What is the capital of Rizil?", "reference": "Remedok"}] * 3
A = ["It is Paris.", "The capital of Rizil is Remedok.", "Remedok"]
B = ["The capital of Rizil is Remedok.", "I do not know.", "Remedok!"]


def test_both_orders_are_asked_and_the_verdicts_map_back(server):
    verdicts = J.judge_all(_judge(server), PROMPTS, A, B, key="sk-test")
    assert [v["winner"] for v in verdicts] == ["b", "a", "tie"]
    assert verdicts[0]["orders"] == ["2", "1"]  # B second, then B first: the same model both times
    assert len(server.requests) == 6 and {r["path"] for r in server.requests} == {"/v1/chat/completions"}
    first = server.requests[0]
    assert first["auth"] == "Bearer sk-test"
    assert first["body"]["model"] == "stand-in" and first["body"]["temperature"] == 0
    text = first["body"]["messages"][0]["content"]
    assert "Answer 1:\nIt is Paris." in text and "Answer 2:\nThe capital of Rizil is Remedok." in text
    swapped = server.requests[1]["body"]["messages"][0]["content"]
    assert "Answer 1:\nThe capital of Rizil is Remedok." in swapped and "Answer 2:\nIt is Paris." in swapped


def test_a_position_biased_judge_gives_ties_only(server):
    server.biased = True
    verdicts = J.judge_all(_judge(server), PROMPTS, A, B)
    assert [v["winner"] for v in verdicts] == ["tie"] * 3 and all(v["orders"] == ["1", "1"] for v in verdicts)
    assert server.requests[0]["auth"] is None  # no key: none sent (a local server)


def test_an_edited_prompt_is_what_the_server_receives(server):
    custom = "Q: {prompt}\nRef: {reference}\n\nAnswer 1:\n{first}\n\nAnswer 2:\n{second}\n\nSay 1, 2 or tie."
    J.judge_pair(_judge(server, prompt=custom), "Q?", "", "x", "y")
    assert server.requests[0]["body"]["messages"][0]["content"].startswith("Q: Q?\nRef: (none)\n")
    with pytest.raises(J.JudgeError, match="placeholder"):
        J.judge_pair(_judge(server, prompt="{answer}"), "Q?", "", "x", "y")


def test_errors_say_what_went_wrong(server):
    with pytest.raises(J.JudgeError, match="HTTP 404"):
        J.Judge(url=f"http://127.0.0.1:{server.server_address[1]}/wrong", model="m").ask("p", "", "a", "b")
    with pytest.raises(J.JudgeError, match="cannot be reached"):
        J.Judge(url="http://127.0.0.1:9/v1", model="m", timeout_s=5).ask("p", "", "a", "b")
    assert J.parse_verdict("Answer 2 is better") == "2"
    with pytest.raises(J.JudgeError, match="not 1, 2 or tie"):
        J.parse_verdict("both are fine")


def test_the_key_lives_in_the_config_folder_readable_by_the_user_only(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.delenv(J.KEY_ENV, raising=False)
    assert J.load_key() is None
    path = J.save_key("sk-secret ")
    assert path == tmp_path / "cfg" / "adapter-studio" / "judge_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and J.load_key() == "sk-secret"
    monkeypatch.setenv(J.KEY_ENV, "sk-env")
    assert J.load_key() == "sk-env"
    J.save_key("")
    assert not path.exists()
