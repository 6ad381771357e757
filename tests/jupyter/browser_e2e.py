#!/usr/bin/python3
"""The main job as its user sees it (issue 13): a real browser drives scripts/jupyter.sh's Jupyter.

Debian's chromium, headless, through chromium-driver and python3-selenium:
  1. `scripts/jupyter.sh` starts (root, as a test user SUDO_UID:SUDO_GID = 4242:4242, on a free
     PORT, with its own NOTEBOOKS directory and BERTH_ROOT store) and prints
     `berth: open http://127.0.0.1:PORT/?token=TOKEN`;
  2. without the token the browser is sent to the login page, which asks for the password or
     token, and the REST API answers 403;
  3. with the token URL: New -> Python 3 on /tree opens a notebook in a new tab; once the kernel
     is idle the first cell gets `import numpy; numpy.arange(6).sum()`, Shift+Enter shows `15`,
     Ctrl+S saves (the "Last Checkpoint" indicator appears);
  4. on the host the .ipynb is in NOTEBOOKS, owned by the test uid, and holds the cell's source
     and its output 15;
  5. SIGTERM to jupyter.sh stops and removes the container: `berth ps -a -q` is empty, and
     neither its mounts (rootfs, netns; seen while it ran) nor its port rule are left, nor any
     mount under the store.

The store (BERTH_ROOT) lives on between runs, in $BERTH_TEST_CACHE/browser-e2e-store (default
/var/cache/berth-test), so that only the first run on a machine builds the image (several
minutes); later runs find every build step cached. It is never the machine's default store, and
one run at a time uses it (flock).

Usage: browser_e2e.py   (root; 77 = skipped: the Debian mirror is unreachable, so the image cannot
be made; or, outside CI, chromium/chromedriver/selenium are missing)
"""

import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

SKIP = 77
REPO = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BERTH = os.path.join(REPO, "build", "berth")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TEST_UID = TEST_GID = 4242  # not root, in no /etc/passwd: the image must not care
URL_TIMEOUT = 25 * 60  # the first run on a machine builds the image
UI_TIMEOUT = 120
CELL = "import numpy; numpy.arange(6).sum()"
CI = os.environ.get("CI") == "true"


class Failure(Exception):
    pass


def log(msg):
    print(f"browser_e2e: {msg}", flush=True)


def skip_or_fail(why):
    """A missing tool: a failure under CI=true (scripts/deps.sh installs it), else a skip."""
    print(f"{'FAIL' if CI else 'SKIP'}: {why}", flush=True)
    sys.exit(1 if CI else SKIP)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# No proxy for 127.0.0.1 or the mirror check, whatever the environment says.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_status(url, timeout=10):
    try:
        with _opener.open(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def mirror_reachable():
    try:
        return http_status("http://deb.debian.org/debian/dists/bookworm/Release") == 200
    except OSError:
        return False


class Server:
    """scripts/jupyter.sh in its own session; its stdout and stderr are collected by a thread."""

    def __init__(self, env):
        self.lines = []
        self.url = None
        self._found = threading.Event()
        # start_new_session: jupyter.sh leads its own session and process group (what
        # `setsid -w` gives a shell), so one killpg reaches it and its foreground `berth wait`.
        self.proc = subprocess.Popen(
            [os.path.join(REPO, "scripts", "jupyter.sh")], cwd=REPO, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True, text=True, errors="replace", bufsize=1)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            m = re.match(r"^berth: open (http://\S+)$", line.strip())
            if m and not self.url:
                self.url = m.group(1)
                self._found.set()
        self._found.set()  # EOF: jupyter.sh is gone

    def wait_url(self, timeout):
        self._found.wait(timeout)
        return self.url

    def output(self, last=60):
        return "\n".join(self.lines[-last:])

    def stop(self, timeout=90):
        """SIGTERM to the process group, as Ctrl-C in a terminal would; returns the exit status."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                raise Failure(f"scripts/jupyter.sh did not exit within {timeout}s of SIGTERM")
        self._reader.join(10)
        return self.proc.returncode


def make_driver(profile_dir):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox",  # root: chromium's sandbox refuses to run
              "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1000",
              "--no-first-run", "--no-default-browser-check", "--disable-extensions",
              f"--user-data-dir={profile_dir}"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(UI_TIMEOUT)
    return driver


def check_login_required(driver, base):
    """Without the token the server asks for it, in the browser and on the REST API."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(base + "/tree")
    field = WebDriverWait(driver, UI_TIMEOUT).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "input#password_input")))
    if field.get_attribute("type") != "password":
        raise Failure(f"the login field is of type {field.get_attribute('type')!r}")
    if "/login" not in driver.current_url:
        raise Failure(f"/tree without the token was not sent to the login page: {driver.current_url}")
    # Visible text, not just markup: wait until the page has rendered its label.
    label = WebDriverWait(driver, UI_TIMEOUT).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, "label[for=password_input]")))
    WebDriverWait(driver, UI_TIMEOUT).until(lambda d: label.text.strip())
    label = label.text.strip()
    if "token" not in label.lower():
        raise Failure(f"the login page does not ask for the token: label {label!r}")
    if driver.find_elements(By.ID, "new-dropdown-button"):
        raise Failure("the notebook list is shown without the token")
    status = http_status(base + "/api/contents")
    if status != 403:
        raise Failure(f"/api/contents without the token answered {status}, not 403")
    log(f"without the token: login page ({label!r}), /api/contents 403")


def run_notebook(driver, url):
    """New notebook through the UI, one cell run, saved; returns the notebook's server path."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, UI_TIMEOUT)
    driver.get(url)  # /?token=... : sets the login cookie, lands on /tree
    wait.until(EC.url_contains("/tree"))
    wait.until(EC.element_to_be_clickable((By.ID, "new-dropdown-button"))).click()
    tree_window = driver.current_window_handle
    before = set(driver.window_handles)
    # The kernel entries come from /api/kernelspecs; "python3" is ipykernel's.
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "li#kernel-python3 > a"))).click()
    wait.until(lambda d: set(d.window_handles) - before)
    new_window = (set(driver.window_handles) - before).pop()
    driver.switch_to.window(new_window)
    wait.until(EC.url_contains("/notebooks/"))
    log(f"new notebook opened in a new tab: {driver.current_url.split('?')[0]}")

    # The kernel is up and idle.
    wait.until(lambda d: d.execute_script(
        "return !!(window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel"
        " && Jupyter.notebook.kernel.is_connected());"))
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#kernel_indicator_icon.kernel_idle_icon")))
    log("kernel idle")

    # Typed into the first cell's editor as a user would (CodeMirror closes brackets itself and
    # steps over the ones typed after; the text is checked below).
    editor = wait.until(EC.element_to_be_clickable(
        (By.CSS_SELECTOR, "#notebook-container .cell.code_cell .CodeMirror")))
    editor.click()
    textarea = editor.find_element(By.CSS_SELECTOR, "textarea")
    textarea.send_keys(CELL)
    text = driver.execute_script("return Jupyter.notebook.get_cell(0).get_text();")
    if text != CELL:
        raise Failure(f"the cell holds {text!r}, not {CELL!r}")
    ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()

    out_sel = "#notebook-container .cell.code_cell .output_area .output_result"
    try:
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, out_sel)
                   and d.find_element(By.CSS_SELECTOR, out_sel).text.strip())
    except Exception as e:
        outs = [o.text for o in driver.find_elements(By.CSS_SELECTOR, ".output_area")]
        raise Failure(f"no result shown after Shift+Enter (output areas: {outs!r})") from e
    shown = driver.find_element(By.CSS_SELECTOR, out_sel).text.strip()
    prompt = driver.find_element(
        By.CSS_SELECTOR, "#notebook-container .cell.code_cell .output_area .output_prompt").text
    if shown != "15":
        raise Failure(f"the cell shows {shown!r}, not 15")
    log(f"cell ran: {prompt.strip()} {shown}")

    # Ctrl+S, the notebook's own shortcut; the save widget then shows the new checkpoint.
    ActionChains(driver).key_down(Keys.CONTROL).send_keys("s").key_up(Keys.CONTROL).perform()
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#save_widget span.checkpoint_status")
               .text.startswith("Last Checkpoint"))
    wait.until(lambda d: d.execute_script("return Jupyter.notebook.dirty === false;"))
    path = driver.execute_script("return Jupyter.notebook.notebook_path;")
    status = driver.find_element(By.CSS_SELECTOR, "#save_widget span.checkpoint_status").text
    log(f"saved {path} ({status})")
    driver.close()
    driver.switch_to.window(tree_window)
    return path


def check_on_host(notebooks, path):
    """The saved .ipynb as the host sees it: where, whose, and what it holds."""
    found = []
    for d, dirs, files in os.walk(notebooks):
        dirs[:] = [x for x in dirs if x != ".ipynb_checkpoints"]
        found += [os.path.relpath(os.path.join(d, f), notebooks) for f in files if f.endswith(".ipynb")]
    if found != [path]:
        raise Failure(f"the notebooks directory holds {found!r}, expected [{path!r}] (saved by the server)")
    file = os.path.join(notebooks, path)
    st = os.stat(file)
    if (st.st_uid, st.st_gid) != (TEST_UID, TEST_GID):
        raise Failure(f"{file} is owned by {st.st_uid}:{st.st_gid}, not the invoking user {TEST_UID}:{TEST_GID}")
    with open(file, encoding="utf-8") as f:
        nb = json.load(f)
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    if not cells:
        raise Failure(f"{file} has no code cell: {nb['cells']!r}")
    cell = cells[0]
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    if source != CELL:
        raise Failure(f"the saved cell's source is {source!r}, not {CELL!r}")
    results = [o for o in cell.get("outputs", []) if o.get("output_type") == "execute_result"]
    if not results:
        raise Failure(f"the saved cell has no execute_result: {cell.get('outputs')!r}")
    text = results[0]["data"]["text/plain"]
    text = "".join(text) if isinstance(text, list) else text
    if text.strip() != "15":
        raise Failure(f"the saved output is {text!r}, not 15")
    log(f"on the host: {file}, owner {st.st_uid}:{st.st_gid}, source and output 15 saved")


def mounts_under(root):
    prefix = root.rstrip("/") + "/"
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    points = [p.replace("\\040", " ") for p in points]
    return [p for p in points if p == root or p.startswith(prefix)]


def traces(cids, port):
    """What a running container holds on the host: its mounts (rootfs, netns) and its port rule."""
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f if any(c in line.split()[4] for c in cids)]
    r = subprocess.run(["nft", "list", "table", "ip", "berth"], capture_output=True, text=True)
    rules = [l.strip() for l in r.stdout.splitlines() if f" dport {port} " in l]
    return mounts + rules


def berth_ps(store):
    r = subprocess.run([BERTH, "--root", store, "ps", "-a", "-q"], capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"berth ps -a -q failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout.split()


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root (scripts/jupyter.sh runs as root)")
        return SKIP
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not os.access(tool, os.X_OK):
            skip_or_fail(f"{tool} missing (Debian's chromium / chromium-driver)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        skip_or_fail("python3-selenium missing")

    start = time.monotonic()
    cache = os.environ.get("BERTH_TEST_CACHE", "/var/cache/berth-test")
    store = os.path.join(cache, "browser-e2e-store")
    os.makedirs(store, exist_ok=True)
    lock = open(os.path.join(cache, "browser-e2e-store.lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)  # one run at a time per store
    work = tempfile.mkdtemp(prefix="berth-browser-e2e.", dir="/var/tmp")
    notebooks = os.path.join(work, "notebooks")
    port = free_port()

    server = driver = None
    cids = []
    failure = None
    rc = 1
    try:
        # A run killed earlier may have left its container behind: not this run's to judge.
        if os.path.exists(BERTH):
            for cid in berth_ps(store):
                subprocess.run([BERTH, "--root", store, "rm", "-f", cid], capture_output=True)

        env = {k: v for k, v in os.environ.items()
               if k not in ("IMAGE", "DISPLAY", "WAYLAND_DISPLAY")}
        env.update(PORT=str(port), NOTEBOOKS=notebooks, BERTH_ROOT=store,
                   SUDO_UID=str(TEST_UID), SUDO_GID=str(TEST_GID))
        log(f"scripts/jupyter.sh: PORT={port} NOTEBOOKS={notebooks} BERTH_ROOT={store} "
            f"SUDO_UID={TEST_UID} SUDO_GID={TEST_GID}")
        server = Server(env)
        url = server.wait_url(URL_TIMEOUT)
        if not url:
            try:  # the output ended: jupyter.sh is exiting
                server.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
            alive = server.proc.poll() is None
            server.stop()
            if not alive and not mirror_reachable():
                print(server.output())
                print("SKIP: the Debian mirror is unreachable, the Jupyter image cannot be made")
                rc = SKIP
                return rc
            raise Failure("scripts/jupyter.sh printed no `berth: open URL` line "
                          + (f"within {URL_TIMEOUT}s" if alive else f"(exit {server.proc.returncode})"))
        ready = time.monotonic()
        log(f"server up after {ready - start:.0f}s: {re.sub(r'token=[0-9a-f]+', 'token=…', url)}")
        m = re.match(r"^(http://127\.0\.0\.1:(\d+))/\?token=([0-9a-f]+)$", url)
        if not m or int(m.group(2)) != port:
            raise Failure(f"unexpected URL {url!r} (port {port})")
        base = m.group(1)
        cids = berth_ps(store)
        if len(cids) != 1:
            raise Failure(f"{store} holds containers {cids}, expected jupyter.sh's one")
        held = traces(cids, port)
        if not any("/merged" in t for t in held) or not any("dnat" in t for t in held):
            raise Failure(f"the running container's rootfs mount or port rule is not seen: {held}")
        if http_status(f"{base}/api/contents?token={m.group(3)}") != 200:
            raise Failure("/api/contents with the token does not answer 200")

        driver = make_driver(os.path.join(work, "chromium-profile"))
        check_login_required(driver, base)
        path = run_notebook(driver, url)
        check_on_host(notebooks, path)
        log(f"browser part took {time.monotonic() - ready:.0f}s")
        rc = 0
    except Failure as e:
        failure = e
    except Exception as e:  # selenium timeouts and the like: show where the browser was
        failure = Failure(f"{type(e).__name__}: {e}".strip())
        if driver is not None:
            try:
                body = driver.find_element("tag name", "body").text
                failure = Failure(f"{failure} at {driver.current_url}; the page says:\n{body[:2000]}")
            except Exception:
                pass
    finally:
        if driver is not None:
            try:
                driver.quit()
            except Exception as e:
                log(f"driver.quit: {e}")
        try:
            if server is not None:
                status = server.stop()
                log(f"scripts/jupyter.sh exited {status} after SIGTERM")
            left = berth_ps(store) if os.path.exists(BERTH) else []
            if left:
                raise Failure(f"containers left in {store} after SIGTERM: {left}")
            stale = mounts_under(store)
            if stale:
                raise Failure(f"mounts left under {store}: {stale}")
            stale = traces(cids, port) if cids else []
            if stale:
                raise Failure(f"the container's mounts or port rule left after SIGTERM: {stale}")
        except Failure as e:
            failure = failure or e
            if failure is not e:
                log(f"also: {e}")
        if failure is not None:
            rc = 1
            if server is not None:
                print("--- scripts/jupyter.sh (last lines) ---\n" + server.output(), flush=True)
            print(f"FAIL: {failure}", flush=True)
        elif rc == 0:
            log(f"PASS in {time.monotonic() - start:.0f}s; container, its mounts and port rule removed")
        shutil.rmtree(work, ignore_errors=True)
        lock.close()
    return rc


if __name__ == "__main__":
    sys.exit(main())
