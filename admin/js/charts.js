// Chart.js (UMD, loaded by index.html) with colours that read on the dark theme.
const PALETTE = ["#0d6efd", "#20c997", "#dc3545", "#ffc107", "#6f42c1", "#fd7e14", "#0dcaf0", "#adb5bd"];

export function palette(i) {
  return PALETTE[i % PALETTE.length];
}

function defaults() {
  const C = window.Chart;
  C.defaults.color = "#adb5bd";
  C.defaults.borderColor = "rgba(255,255,255,.1)";
  C.defaults.animation = false; // charts redraw every few seconds: no motion
  return C;
}

/** Creates or updates a chart on `canvas` (kept on the element, so polling reuses it). */
export function chart(canvas, config) {
  const C = defaults();
  if (canvas._chart) {
    canvas._chart.data = config.data;
    canvas._chart.update("none");
    return canvas._chart;
  }
  canvas._chart = new C(canvas, { ...config, options: { responsive: true, maintainAspectRatio: false, ...(config.options || {}) } });
  return canvas._chart;
}

export function destroyCharts(root) {
  root.querySelectorAll("canvas").forEach((c) => c._chart && c._chart.destroy());
}
