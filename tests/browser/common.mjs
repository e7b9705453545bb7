// What the browser tests share: Debian's Chromium, headless, and numbered steps.

import { chromium } from "playwright-core";

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}

// `step(label, body)` runs body and prints "<prefix>step N: label ... ok"; `step.count()`
// says how many ran.
export function stepper(prefix) {
  let n = 0;
  const step = async (label, body) => {
    n += 1;
    process.stdout.write(`${prefix}step ${n}: ${label} ... `);
    await body();
    process.stdout.write("ok\n");
  };
  step.count = () => n;
  return step;
}
