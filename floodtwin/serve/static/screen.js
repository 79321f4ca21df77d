// The command-centre screen: the grid e-map, the discharge control, the monitoring corner, the plan's
// to-do list and the live board. Everything comes from the floodtwin server on this host (no CDN).
"use strict";
(function () {
  var HAZARD_COLOUR = {dry: "#78909c", low: "#2e7d32", moderate: "#f9a825", significant: "#ef6c00", extreme: "#c62828"};
  var STONE_COLOUR = {normal: "#43a047", shaking: "#fdd835", displaced: "#ef6c00", lost: "#c62828", offline: "#757575"};
  var REPORT_COLOUR = {patrol: "#1e88e5", danger: "#c62828"};
  var state = {q: null, seq: 0, shown: 0, villages: {}, overlay: null, reportLayer: null, stoneMarks: {}};
  var map = L.map("map", {zoomControl: true, attributionControl: false, zoomSnap: 0.25});

  function el(id) { return document.getElementById(id); }
  function esc(s) { return String(s == null ? "" : s).replace(/[&<>"]/g, function (c) { return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]; }); }
  function getJSON(url) {
    return fetch(url).then(function (r) {
      return r.json().then(function (doc) { if (!r.ok) { throw new Error(doc.error || r.statusText); } return doc; });
    });
  }
  function props(p, keys) {
    return "<table>" + keys.filter(function (k) { return p[k] !== undefined && p[k] !== null; }).map(function (k) {
      return "<tr><th>" + esc(k) + "</th><td>" + esc(p[k]) + "</td></tr>"; }).join("") + "</table>";
  }

  function buildMap(doc) {
    var L_ = doc.layers, overlays = {};
    var b = doc.bounds;
    map.fitBounds(b);
    L.imageOverlay("/api/hillshade.png", b, {opacity: 1}).addTo(map);
    state.overlay = L.imageOverlay("data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw==", b, {opacity: 0.85});
    state.overlay.addTo(map);
    // the page says which discharge's inundation is drawn (the browser tests wait for it)
    state.overlay.on("load", function () { document.body.setAttribute("data-flood-drawn", String(state.shown)); });
    overlays["淹没 inundation"] = state.overlay;
    overlays["网格 grids"] = L.geoJSON(L_.grids, {style: function (f) {
      var excl = f.properties.kind === "exclusive";
      return {color: excl ? "#6a1b9a" : "#546e7a", weight: excl ? 2 : 1, dashArray: excl ? "5,4" : null, fillOpacity: 0.03};
    }, onEachFeature: function (f, l) { l.bindPopup("<b>" + esc(f.properties.grid_id) + " " + esc(f.properties.name_zh) + "</b><br>" + esc(f.properties.name_en) + props(f.properties, ["level", "kind", "leader_id"])); }}).addTo(map);
    overlays["大堤 dikes"] = L.geoJSON(L_.dikes, {style: {color: "#3e2723", weight: 3}}).addTo(map);
    overlays["险工/控导 works"] = L.geoJSON(L_.works, {style: {color: "#5d4037", weight: 1, fillColor: "#8d6e63", fillOpacity: 0.5},
      onEachFeature: function (f, l) { l.bindPopup("<b>" + esc(f.properties.name_zh) + "</b> " + esc(f.properties.name_en) + props(f.properties, ["kind_zh", "bank", "n_spurs", "n_stones"])); }}).addTo(map);
    overlays["智能石头 stones"] = L.geoJSON(L_.stones, {pointToLayer: function (f, ll) {
      var m = L.circleMarker(ll, {radius: 3, weight: 0, fillOpacity: 0.9, fillColor: STONE_COLOUR.normal});
      state.stoneMarks[f.properties.stone_id] = m; return m; },
      onEachFeature: function (f, l) { l.bindPopup(esc(f.properties.stone_id) + " · spur " + esc(f.properties.spur_number)); }}).addTo(map);
    overlays["物资料场 depots"] = L.geoJSON(L_.depots, {pointToLayer: function (f, ll) {
      return L.circleMarker(ll, {radius: 7, color: "#4e342e", weight: 2, fillColor: "#ffb74d", fillOpacity: 1}); },
      onEachFeature: function (f, l) { l.bindPopup("<b>" + esc(f.properties.name_zh) + "</b> " + esc(f.properties.name_en) + props(f.properties, ["stone_m3", "gabions", "sandbags", "woven_bags", "life_jackets", "lifebuoys", "lights", "boats"])); }}).addTo(map);
    overlays["重点防守点 key points"] = L.geoJSON(L_.key_points, {pointToLayer: function (f, ll) {
      return L.circleMarker(ll, {radius: 6, color: "#b71c1c", weight: 3, fillColor: "#fff", fillOpacity: 1}); },
      onEachFeature: function (f, l) { l.bindPopup("<b>" + esc(f.properties.name_zh) + "</b> " + esc(f.properties.name_en) + props(f.properties, ["kind", "grid_id"])); }}).addTo(map);
    var onDuty = L_.staff.features.filter(function (f) { return f.properties.on_duty; });
    overlays["值班人员 staff on duty"] = L.geoJSON({type: "FeatureCollection", features: onDuty}, {pointToLayer: function (f, ll) {
      return L.circleMarker(ll, {radius: 2.5, weight: 0, fillColor: "#0d47a1", fillOpacity: 0.8}); },
      onEachFeature: function (f, l) { l.bindPopup(esc(f.properties.staff_id) + " · " + esc(f.properties.role_zh) + " " + esc(f.properties.role) + " · " + esc(f.properties.grid_id)); }}).addTo(map);
    overlays["村庄 villages"] = L.geoJSON(L_.villages, {pointToLayer: function (f, ll) {
      var m = L.circleMarker(ll, {radius: 6 + Math.sqrt(f.properties.population) / 6, color: "#000", weight: 1.5, fillColor: HAZARD_COLOUR.dry, fillOpacity: 0.9});
      state.villages[f.properties.village_id] = {marker: m, props: f.properties}; return m; },
      onEachFeature: function (f, l) { l.bindPopup(function () { return villagePopup(f.properties.village_id); }); }}).addTo(map);
    state.reportLayer = L.layerGroup().addTo(map);
    overlays["现场报告 field reports"] = state.reportLayer;
    L.control.layers(null, overlays, {collapsed: true}).addTo(map);
    staffPanel(L_.staff.features);
    farmersPanel(L_.villages.features);
    var qs = doc.library.discharges_m3s;
    ["q-slider", "q-box"].forEach(function (id) { el(id).min = qs[0]; el(id).max = qs[qs.length - 1]; });
    // start inside the library's range (3,000 m³/s, the normal state, when the library reaches it)
    el("q-box").value = Math.min(Math.max(Number(el("q-box").value), qs[0]), qs[qs.length - 1]);
    el("ro").textContent = doc.read_only ? "(read-only: no token configured)" : "";
    var grids = L_.grids.features.map(function (f) { return f.properties.grid_id; });
    el("push-grid").innerHTML = grids.map(function (g) { return "<option>" + esc(g) + "</option>"; }).join("");
  }

  function villagePopup(id) {
    var v = state.villages[id], p = v.props, a = v.answer;
    var s = "<b>" + esc(p.name_zh) + "</b><br>" + esc(p.name_en) + props(p, ["grid_id", "population", "households", "special_attention", "farmers_crop", "farmers_livestock", "farmers_other", "evacuation_point"]);
    if (a) { s += "<b>" + (a.flooded ? "flooded " + a.depth_m + " m, " + esc(a.hazard_class) + (a.arrival_h != null ? ", water at " + a.arrival_h + " h" : "") : "dry") + "</b>"; }
    return s;
  }

  function staffPanel(staff) {
    var byGrid = {};
    staff.forEach(function (f) { if (f.properties.on_duty) { byGrid[f.properties.grid_id] = (byGrid[f.properties.grid_id] || 0) + 1; } });
    var n = staff.filter(function (f) { return f.properties.on_duty; }).length;
    el("staff").innerHTML = n + " of " + staff.length + " on duty in " + Object.keys(byGrid).length + " grids";
  }

  function farmersPanel(villages) {
    el("farmers").querySelector("tbody").innerHTML = villages.map(function (f) {
      var p = f.properties;
      return "<tr><td>" + esc(p.name_zh) + "</td><td>" + p.farmers_crop + "</td><td>" + p.farmers_livestock + "</td><td>" + p.farmers_other + "</td></tr>";
    }).join("");
  }

  function showAnswer(doc) {
    var b = el("banner");
    b.className = "banner " + doc.colour;
    el("banner-level").textContent = "Level " + doc.tier + " · " + doc.colour.toUpperCase();
    el("banner-flow").textContent = Math.round(doc.discharge_m3s).toLocaleString("en") + " m³/s at 花园口 Huayuankou · stage " + doc.gauge_stage_m.toFixed(2) + " m";
    el("banner-reason").textContent = doc.reason;
    el("answer-source").textContent = doc.answer + " · " + doc.server_ms + " ms";
    var f = doc.flood;
    el("flood-summary").innerHTML = "滩区淹没 floodplain under water: <b>" + f.floodplain_inundated_area_km2.toFixed(1) + " km²</b>; behind the dikes: " +
      (f.behind_dikes_inundated_area_km2 > 0 ? "<b class=flooded>" + f.behind_dikes_inundated_area_km2.toFixed(2) + " km²</b>" : "dry") +
      "<br>least freeboard " + doc.min_freeboard.freeboard_m.toFixed(2) + " m at " + esc(doc.min_freeboard.posts);
    state.shown = doc.discharge_m3s;
    state.overlay.setUrl(doc.flood_image);
    var rows = doc.villages.map(function (v) {
      var s = state.villages[v.village_id];
      if (s) { s.answer = v; s.marker.setStyle({fillColor: HAZARD_COLOUR[v.hazard_class] || HAZARD_COLOUR.dry}); }
      return "<tr" + (v.flooded ? " class=flooded" : "") + "><td>" + esc(v.name_zh) + "</td><td>" + v.population + "</td><td>" + v.special_attention +
        "</td><td>" + v.depth_m.toFixed(2) + "</td><td class='haz-" + esc(v.hazard_class) + "'>" + esc(v.hazard_class) + "</td></tr>";
    });
    el("attention").querySelector("tbody").innerHTML = rows.join("");
    var p = doc.people_to_move;
    el("to-move").textContent = "to move 需转移: " + p.population + " people, " + p.special_attention + " needing special attention, from " + p.villages + " villages";
    el("todo-count").textContent = "(" + doc.task_count + " tasks)";
    el("todo").innerHTML = doc.tasks_by_grid.map(function (g) {
      return "<div class=group><h3>" + esc(g.grid_id) + " · " + esc(g.owner_role) + " (" + g.tasks.length + ")</h3><ul>" +
        g.tasks.map(function (t) { return "<li class=task>" + t.deadline_min + " min · " + esc(t.title_zh) + " · " + esc(t.title_en) + "</li>"; }).join("") + "</ul></div>";
    }).join("");
    state.shown = doc.discharge_m3s;
    document.body.setAttribute("data-answered", String(doc.discharge_m3s));
  }

  function ask(q) {
    var seq = ++state.seq;
    el("q-error").textContent = "";
    getJSON("/api/answer?discharge=" + encodeURIComponent(q)).then(function (doc) {
      if (seq === state.seq) { showAnswer(doc); }
    }).catch(function (e) { if (seq === state.seq) { el("q-error").textContent = e.message; } });
  }

  var timer = null;
  function setDischarge(q, from) {
    if (from !== "slider") { el("q-slider").value = q; }
    if (from !== "box") { el("q-box").value = q; }
    clearTimeout(timer);
    timer = setTimeout(function () { ask(q); }, 30);
  }
  el("q-slider").addEventListener("input", function () { setDischarge(this.value, "slider"); });
  el("q-box").addEventListener("change", function () { setDischarge(this.value, "box"); });
  el("q-box").addEventListener("keydown", function (e) { if (e.key === "Enter") { setDischarge(this.value, "box"); } });

  function refreshBoard() {
    getJSON("/api/board").then(function (doc) {
      var c = doc.counts;
      el("due-head").textContent = "期限 due (" + doc.zone + ")";
      el("board-counts").textContent = "(" + doc.tasks.length + " tasks: " + Object.keys(c).map(function (k) { return k + " " + c[k]; }).join(", ") + "; overdue " + doc.overdue + ")";
      el("board").querySelector("tbody").innerHTML = doc.tasks.map(function (t) {
        var cls = "state-" + t.state + (t.overdue.length ? " overdue" : "");
        return "<tr class='" + cls + "' data-key='" + esc(t.key) + "'><td>" + esc(t.short_id) + "</td><td class=state>" + esc(t.state) +
          "</td><td>" + esc(t.grid_id || "") + "</td><td>" + esc(t.assignees.join(", ")) + "</td><td>" + esc((t.due_local || "").slice(11, 16)) +
          (t.overdue.length ? " overdue: " + esc(t.overdue.join(", ")) : "") + "</td><td>" + t.escalation_level + "</td><td>" + esc(t.title_zh) +
          "</td><td>" + (t.state === "dispatched" ? "<button class=ack data-key='" + esc(t.key) + "'>ack</button>" : "") + "</td></tr>";
      }).join("");
    }).catch(function (e) { el("board-counts").textContent = e.message; });
  }

  function refreshMonitoring() {
    getJSON("/api/monitoring").then(function (doc) {
      var h = doc.huayuankou;
      el("hyk").innerHTML = h ? "花园口 Huayuankou: <b>" + Math.round(h.discharge_m3s).toLocaleString("en") + " m³/s</b>" +
        (h.stage_m != null ? ", stage " + h.stage_m.toFixed(2) + " m" : "") + " <span class=dim>(" + esc(h.source) + ")</span>" : "花园口 Huayuankou: no value yet";
      el("stones").innerHTML = "智能石头 stones: " + Object.keys(doc.stones_by_state).map(function (k) {
        return "<span style='color:" + (STONE_COLOUR[k] || "#000") + "'>" + esc(k) + " " + doc.stones_by_state[k] + "</span>"; }).join(" · ");
      Object.keys(state.stoneMarks).forEach(function (id) {
        state.stoneMarks[id].setStyle({fillColor: STONE_COLOUR[doc.stones[id] || "normal"] || STONE_COLOUR.normal}); });
      var kinds = {};
      doc.reports.forEach(function (r) { var k = r.kind + (r.severity ? " " + r.severity : ""); kinds[k] = (kinds[k] || 0) + 1; });
      el("reports").innerHTML = "现场报告 open field reports: " + doc.reports.length + (doc.reports.length ? " (" +
        Object.keys(kinds).map(function (k) { return esc(k) + " " + kinds[k]; }).join(", ") + ")" : "");
      state.reportLayer.clearLayers();
      doc.reports.forEach(function (r) {
        if (r.lat == null || r.lon == null) { return; }
        var major = r.severity === "major";
        L.circleMarker([r.lat, r.lon], {radius: major ? 9 : 6, color: REPORT_COLOUR[r.kind] || "#000", weight: major ? 4 : 2,
                                        dashArray: major ? null : "3,3", fillOpacity: 0.25})
          .bindPopup(esc(r.kind) + (r.danger_kind ? " · " + esc(r.danger_kind) : "") + " · " + esc(r.severity || "") +
                     " · " + esc(r.grid_id || "") + "<br>" + esc(r.text)).addTo(state.reportLayer);
      });
    }).catch(function (e) { el("hyk").textContent = e.message; });
  }

  function post(url, body) {
    return fetch(url, {method: "POST", headers: {"Content-Type": "application/json", "Authorization": "Bearer " + el("token").value},
                       body: JSON.stringify(body)}).then(function (r) {
      return r.json().then(function (doc) { if (!r.ok) { throw new Error(doc.error || r.statusText); } return doc; });
    });
  }
  function said(p) { p.then(function (d) { el("action-result").textContent = JSON.stringify(d).slice(0, 200); refreshBoard(); })
                      .catch(function (e) { el("action-result").textContent = e.message; }); }
  el("activate").addEventListener("click", function () { said(post("/api/activate", {discharge: Number(el("q-box").value), actor: el("actor").value || null})); });
  el("push").addEventListener("click", function () { said(post("/api/push", {grid: el("push-grid").value, message: el("push-msg").value, actor: el("actor").value})); });
  el("board").addEventListener("click", function (e) {
    var t = e.target;
    if (t.classList.contains("ack")) { said(post("/api/acknowledge", {key: t.getAttribute("data-key"), actor: el("actor").value})); }
  });

  getJSON("/api/reach").then(function (doc) {
    buildMap(doc);
    // start at the river's flow now (the feeds' or the last activation's), so that the banner opens on the
    // level in force, not on a normal state while the board works a level-I flood; else 3,000 m³/s
    getJSON("/api/monitoring").then(function (m) { return m.huayuankou ? m.huayuankou.discharge_m3s : null; })
      .catch(function () { return null; })
      .then(function (q) {
        var qs = doc.library.discharges_m3s;
        setDischarge(q == null ? Number(el("q-box").value) : Math.min(Math.max(Math.round(q), qs[0]), qs[qs.length - 1]), null);
      });
    refreshBoard(); refreshMonitoring();
    setInterval(refreshBoard, 1000);
    setInterval(refreshMonitoring, 5000);
  }).catch(function (e) { el("banner-reason").textContent = "cannot load the reach: " + e.message; });
})();
