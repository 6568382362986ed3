// The dashboard: every chart is a GraphQL report (the same ones the exports use).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const charts = {};
  window.__charts = {};  // what each chart shows, for the browser test
  window.__ready = false;

  const thisYear = new Date().getFullYear();
  for (const y of [thisYear, thisYear - 1]) {
    for (const p of [String(y), `${y}Q4`, `${y}Q3`, `${y}Q2`, `${y}Q1`]) {
      const o = document.createElement("option");
      o.value = p; o.textContent = p.includes("Q") ? `${p.slice(0, 4)}年第${p.slice(5)}季度` : `${p}年`;
      $("period").appendChild(o);
    }
  }
  $("token").value = sessionStorage.getItem("hubToken") || "";

  const QUERY = `query($region: String!, $period: String) {
    coverage: coverageReport(region: $region, groupBy: TOWNSHIP) { rows { label coverage target } total { coverage target } }
    key: coverageReport(region: $region, groupBy: CATEGORY) { rows { label coverage target } }
    trend: signingTrend(region: $region, months: 12) { months { month signed } }
    fulfilment: fulfilmentReport(region: $region, period: $period) { teams { team rate } }
    referral: referralReport(region: $region, period: $period) { directions { label medianHoursToAccept p90HoursToAccept total } }
    fees: feeReport(region: $region, period: $period) { funds { key label amount } }
  }`;

  function chart(name) {
    if (!charts[name]) charts[name] = echarts.init($("chart-" + name));
    return charts[name];
  }
  function pct(v) { return v == null ? null : Math.round(v * 10000) / 100; }
  function bars(name, labels, values, extra) {
    window.__charts[name] = { labels, values };
    chart(name).setOption(Object.assign({
      tooltip: { trigger: "axis" }, grid: { left: 50, right: 20, bottom: 70, top: 30 },
      xAxis: { type: "category", data: labels, axisLabel: { rotate: 30, interval: 0, fontSize: 11 } },
      yAxis: { type: "value" },
      series: [{ type: "bar", data: values, itemStyle: { color: "#2f7fd0" } }],
    }, extra || {}), true);
  }

  async function load() {
    const token = $("token").value.trim();
    sessionStorage.setItem("hubToken", token);
    window.__ready = false;
    $("status").textContent = "查询中…";
    const response = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", "authorization": "Bearer " + token },
      body: JSON.stringify({ query: QUERY, variables: { region: $("region").value, period: $("period").value } }),
    });
    if (response.status === 401) { $("status").textContent = "令牌无效，请重新输入"; return; }
    const body = await response.json();
    if (body.errors) { $("status").textContent = "查询失败：" + body.errors[0].message; return; }
    const d = body.data;
    const target = pct(d.coverage.total.target);
    bars("coverage", d.coverage.rows.map((r) => r.label), d.coverage.rows.map((r) => pct(r.coverage)), {
      yAxis: { type: "value", name: "%", max: 100 },
      series: [{ type: "bar", name: "签约率", data: d.coverage.rows.map((r) => pct(r.coverage)),
                 markLine: target == null ? undefined : { data: [{ yAxis: target, name: "目标" }], label: { formatter: "目标 {c}%" } } }],
    });
    bars("key", d.key.rows.map((r) => r.label), d.key.rows.map((r) => pct(r.coverage)), {
      yAxis: { type: "value", name: "%", max: 100 },
      series: [{ type: "bar", name: "签约率", data: d.key.rows.map((r) => pct(r.coverage)), itemStyle: { color: "#e07b39" },
                 markLine: d.key.rows.length && d.key.rows[0].target != null ? { data: [{ yAxis: pct(d.key.rows[0].target) }], label: { formatter: "目标 {c}%" } } : undefined }],
    });
    const months = d.trend.months;
    window.__charts.trend = { labels: months.map((m) => m.month), values: months.map((m) => m.signed) };
    chart("trend").setOption({
      tooltip: { trigger: "axis" }, grid: { left: 50, right: 20, bottom: 40, top: 30 },
      xAxis: { type: "category", data: window.__charts.trend.labels }, yAxis: { type: "value", name: "人" },
      series: [{ type: "line", name: "新签约", smooth: true, data: window.__charts.trend.values, areaStyle: {} }],
    }, true);
    const teams = d.fulfilment.teams;
    bars("fulfilment", teams.map((t) => t.team), teams.map((t) => pct(t.rate) ?? 0), { yAxis: { type: "value", name: "%", max: 100 } });
    const dirs = d.referral.directions;
    window.__charts.referral = { labels: dirs.map((r) => r.label), values: dirs.map((r) => r.total),
                                 median: dirs.map((r) => r.medianHoursToAccept), p90: dirs.map((r) => r.p90HoursToAccept) };
    chart("referral").setOption({
      tooltip: { trigger: "axis" }, legend: { data: ["中位数", "P90", "转诊人次"] },
      grid: { left: 50, right: 50, bottom: 40, top: 40 },
      xAxis: { type: "category", data: window.__charts.referral.labels },
      yAxis: [{ type: "value", name: "小时" }, { type: "value", name: "人次" }],
      series: [{ type: "bar", name: "中位数", data: window.__charts.referral.median },
               { type: "bar", name: "P90", data: window.__charts.referral.p90 },
               { type: "line", name: "转诊人次", yAxisIndex: 1, data: window.__charts.referral.values }],
    }, true);
    const funds = d.fees.funds.filter((f) => ["PUBLIC_HEALTH", "INSURANCE", "PERSONAL"].includes(f.key));
    window.__charts.fees = { labels: funds.map((f) => f.label), values: funds.map((f) => f.amount) };
    chart("fees").setOption({
      tooltip: { trigger: "item", formatter: "{b}: {c} 元 ({d}%)" }, legend: { bottom: 0 },
      series: [{ type: "pie", radius: ["35%", "65%"], data: funds.map((f) => ({ name: f.label, value: f.amount })) }],
    }, true);
    $("status").textContent = "已更新 " + new Date().toLocaleTimeString("zh-CN");
    window.__ready = true;
  }

  $("load").addEventListener("click", () => { load().catch((e) => { $("status").textContent = "出错：" + e; }); });
  $("region").addEventListener("change", () => $("load").click());
  $("period").addEventListener("change", () => $("load").click());
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
  if ($("token").value) $("load").click();
})();
