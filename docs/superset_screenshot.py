"""Take docs/superset-chart.png: a Superset chart on flight-iox, in headless Chromium.

Run it with the Python of Superset's venv (Superset depends on Selenium) and Debian's
``chromium`` and ``chromium-driver`` (``apt-get install chromium chromium-driver``):

    $SUPERSET_VENV/bin/python docs/superset_screenshot.py http://127.0.0.1:8088 2 out.png

It logs in through Superset's own login form (admin/admin unless ``--user``/``--password``
say otherwise), opens the chart's explore page and saves what the browser shows once the
chart has had time to render. The chart in docs/superset-chart.png is the one the steps in
docs/clients.md#apache-superset make, on two hosts' ``usage`` over two hours.
"""

from __future__ import annotations

import argparse
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

CHROMEDRIVER = "/usr/bin/chromedriver"


def screenshot(url: str, chart: int, out: str, user: str, password: str, wait: float) -> str:
    """Log in, open the chart, save a PNG; returns the page title."""
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument("--window-size=1400,900")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(f"{url}/login/")
        time.sleep(3)
        driver.find_element(By.CSS_SELECTOR, "input#username").send_keys(user)
        driver.find_element(By.CSS_SELECTOR, "input[type='password']").send_keys(password + "\n")
        time.sleep(5)
        driver.get(f"{url}/explore/?slice_id={chart}")
        time.sleep(wait)  # the chart renders after its data request returns
        driver.save_screenshot(out)
        return str(driver.title)
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="Superset, e.g. http://127.0.0.1:8088")
    parser.add_argument("chart", type=int, help="the chart's id (slice_id)")
    parser.add_argument("out", help="the PNG to write")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--wait", type=float, default=25.0, help="seconds to let it render")
    args = parser.parse_args()
    print(screenshot(args.url, args.chart, args.out, args.user, args.password, args.wait))


if __name__ == "__main__":
    main()
