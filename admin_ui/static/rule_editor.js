// The visual rule editor: builds a form from the policy's vocabulary, writes every change back into
// the JSON textarea (the document the server validates and stores), and shows each validation
// message next to the field its path names. Plain DOM code: no build step, no network.
(function () {
  "use strict";
  var root = document.getElementById("rule-editor");
  if (!root) { return; }
  var vocab = JSON.parse(document.getElementById("vocabulary-data").textContent);
  var t = JSON.parse(document.getElementById("editor-texts").textContent);
  var textarea = document.getElementById("document");
  var readOnly = textarea.hasAttribute("readonly");
  var doc;
  var variables = {};
  vocab.variables.forEach(function (v) { variables[v.name] = v; });
  // Values the catalog knows for some variables (product groups, brands): offered as suggestions.
  var catalog = JSON.parse((document.getElementById("catalog-data") || { textContent: "{}" }).textContent);
  Object.keys(catalog).forEach(function (name) {
    var list = document.createElement("datalist");
    list.id = "re-list-" + name;
    catalog[name].forEach(function (choice) {
      var option = document.createElement("option");
      option.value = choice[0];
      if (choice[1] !== choice[0]) { option.label = choice[1]; }
      list.appendChild(option);
    });
    root.parentNode.insertBefore(list, root);
  });
  var actions = {};
  vocab.actions.forEach(function (a) { actions[a.name] = a; });

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; }
      else if (key.slice(0, 2) === "on") { node.addEventListener(key.slice(2), attrs[key]); }
      else if (attrs[key] !== null && attrs[key] !== undefined && attrs[key] !== false) { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    if (readOnly && /^(INPUT|SELECT|BUTTON|TEXTAREA)$/.test(tag.toUpperCase())) { node.disabled = true; }
    return node;
  }
  var uid = 0;
  function labelled(text, control, path) {
    uid += 1;
    control.id = control.id || "re-" + uid;
    var wrap = el("div", { "class": "re-field", "data-path": path }, [el("label", { "for": control.id, text: text }), control]);
    return wrap;
  }
  function typed(text, numeric) {
    if (!numeric) { return text; }
    return /^-?\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : text;  // the server says why a non-number is wrong
  }
  function save() { textarea.value = JSON.stringify(doc, null, 2); }
  function changed() { save(); render(); }
  function select(options, value, onchange) {
    var s = el("select", { onchange: function () { onchange(s.value); } },
      options.map(function (o) { return el("option", { value: o[0], text: o[1], selected: o[0] === value ? "selected" : null }); }));
    s.value = value === undefined || value === null ? "" : String(value);
    return s;
  }
  function button(text, onclick, cls) {
    return el("button", { type: "button", "class": cls || "small", onclick: onclick, text: text });
  }

  function conditionNode(cond, scope, path, remove) {
    var group = cond.all ? "all" : (cond.any ? "any" : null);
    if (group) {
      var box = el("fieldset", { "class": "re-group", "data-path": path });
      box.appendChild(el("legend", {}, [select([["all", t.all], ["any", t.any]], group, function (value) {
        cond[value] = cond[group]; delete cond[group]; changed();
      })]));
      cond[group].forEach(function (child, i) {
        box.appendChild(conditionNode(child, scope, path + "." + group + "[" + i + "]", function () {
          cond[group].splice(i, 1); changed();
        }));
      });
      box.appendChild(el("div", { "class": "re-buttons" }, [
        button(t.add_condition, function () { cond[group].push({ name: "", operator: "", value: null }); changed(); }),
        button(t.add_group, function () { cond[group].push({ any: [] }); changed(); }),
        remove ? button(t.remove_group, remove, "small danger") : null]));
      return box;
    }
    if (cond.name === undefined) {  // a node this editor does not know: kept as it is
      return el("pre", { "class": "raw", "data-path": path, text: JSON.stringify(cond) });
    }
    var choices = [["", t.choose]].concat(vocab.variables.filter(function (v) {
      return v.scopes.indexOf(scope) >= 0 || v.name === cond.name;
    }).map(function (v) { return [v.name, v.label]; }));
    var variable = variables[cond.name];
    var operators = variable ? (vocab.variable_type_operators[variable.field_type] || []) : [];
    var operator = operators.filter(function (o) { return o.name === cond.operator; })[0];
    var row = el("div", { "class": "re-condition", "data-path": path }, [
      labelled(t.variable, select(choices, cond.name, function (value) {
        cond.name = value; cond.operator = ""; cond.value = null; changed();
      }), path + ".name"),
      labelled(t.operator, select([["", t.choose]].concat(operators.map(function (o) { return [o.name, o.label]; })),
        cond.operator, function (value) { cond.operator = value; changed(); }), path + ".operator")]);
    if (operator && operator.input_type !== "none") {
      var input;
      if (variable.options && variable.options.length) {
        input = select([["", t.choose]].concat(variable.options.map(function (o) { return [String(o), String(o)]; })),
          cond.value, function (value) { cond.value = value; save(); });
      } else if (operator.input_type === "select_multiple") {  // a list, typed as "eco, new"
        input = el("input", { type: "text", value: Array.isArray(cond.value) ? cond.value.join(", ") : "" });
        input.addEventListener("input", function () {
          cond.value = input.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean); save();
        });
      } else {
        var numeric = operator.input_type === "numeric";
        input = el("input", { type: "text", inputmode: numeric ? "decimal" : null,
          list: catalog[cond.name] && catalog[cond.name].length ? "re-list-" + cond.name : null,
          value: cond.value === null || cond.value === undefined ? "" : String(cond.value) });
        input.addEventListener("input", function () { cond.value = typed(input.value, numeric); save(); });
      }
      row.appendChild(labelled(t.value, input, path + ".value"));
    }
    if (variable && variable.help) { row.title = variable.help; }
    row.appendChild(button(t.remove, remove, "small danger"));
    return row;
  }

  function actionNode(action, path, remove) {
    var spec = actions[action.name];
    var box = el("div", { "class": "re-action", "data-path": path }, [
      labelled(t.action, select([["", t.choose]].concat(vocab.actions.map(function (a) { return [a.name, a.label]; })),
        action.name, function (value) { action.name = value; action.params = {}; changed(); }), path + ".name")]);
    (spec ? spec.params : []).forEach(function (param) {
      var numeric = param.fieldType === "numeric";
      var value = action.params ? action.params[param.name] : undefined;
      var input;
      if (param.options && param.options.length) {  // a choice such as free_for_points' rounding
        input = select([["", t.choose]].concat(param.options.map(function (o) { return [o, o]; })), value,
          function (chosen) { action.params = action.params || {}; action.params[param.name] = chosen; save(); });
      } else {
        input = el("input", { type: "text", inputmode: numeric ? "decimal" : null, placeholder: param.expects,
          value: value === undefined || value === null ? "" : String(value) });
        input.addEventListener("input", function () {
          action.params = action.params || {};
          action.params[param.name] = typed(input.value, numeric); save();
        });
      }
      box.appendChild(labelled(param.label, input, path + ".params." + param.name));
    });
    if (spec && spec.help) { box.appendChild(el("p", { "class": "muted", text: spec.help })); }
    box.appendChild(button(t.remove, remove, "small danger"));
    return box;
  }

  function ruleNode(rule, i) {
    var path = "rules[" + i + "]";
    var scope = rule.scope || vocab.default_scope;
    function field(name, text, type) {
      var input = el("input", { type: type || "text", value: rule[name] === undefined || rule[name] === null ? "" : String(rule[name]) });
      input.addEventListener("input", function () {
        if (input.value === "") { delete rule[name]; }
        else { rule[name] = type === "number" ? typed(input.value, true) : input.value; }
        save();
      });
      return labelled(text, input, path + "." + name);
    }
    var stop = el("input", { type: "checkbox", checked: rule.stop_processing ? "checked" : null });
    stop.addEventListener("change", function () { rule.stop_processing = stop.checked; save(); });
    var conditions = rule.conditions || null;
    var box = el("fieldset", { "class": "re-rule card", "data-path": path }, [
      el("legend", { text: t.rule + " " + (i + 1) + (rule.id ? " · " + rule.id : "") }),
      el("div", { "class": "form-grid" }, [
        field("id", t.id), field("priority", t.priority, "number"),
        labelled(t.scope, select(vocab.scopes.map(function (s) { return [s, s]; }), scope, function (value) {
          rule.scope = value; changed();
        }), path + ".scope"),
        field("active_from", t.active_from), field("active_until", t.active_until),
        el("div", { "class": "re-field", "data-path": path + ".stop_processing" },
          [el("label", { "class": "check" }, [stop, document.createTextNode(" " + t.stop_processing)])])]),
      field("description", t.description),
      el("h3", { text: t.conditions }),
      conditions ? conditionNode(conditions, scope, path + ".conditions", function () { delete rule.conditions; changed(); })
        : el("p", {}, [el("span", { "class": "muted", text: t.always + " " }),
          button(t.add_condition, function () { rule.conditions = { all: [{ name: "", operator: "", value: null }] }; changed(); })]),
      el("h3", { text: t.actions })]);
    (rule.actions || []).forEach(function (action, j) {
      box.appendChild(actionNode(action, path + ".actions[" + j + "]", function () { rule.actions.splice(j, 1); changed(); }));
    });
    box.appendChild(el("div", { "class": "re-buttons" }, [
      button(t.add_action, function () { rule.actions = rule.actions || []; rule.actions.push({ name: "", params: {} }); changed(); }),
      i > 0 ? button(t.move_up, function () { doc.rules.splice(i - 1, 0, doc.rules.splice(i, 1)[0]); changed(); }) : null,
      i < doc.rules.length - 1 ? button(t.move_down, function () { doc.rules.splice(i + 1, 0, doc.rules.splice(i, 1)[0]); changed(); }) : null,
      button(t.remove_rule, function () { doc.rules.splice(i, 1); changed(); }, "small danger")]));
    return box;
  }

  function render() {
    root.textContent = "";
    if (!doc || !Array.isArray(doc.rules)) {
      root.appendChild(el("p", { "class": "flash error", text: t.not_a_rule_document }));
      return;
    }
    doc.rules.forEach(function (rule, i) { root.appendChild(ruleNode(rule, i)); });
    root.appendChild(button(t.add_rule, function () {
      doc.rules.push({ id: "rule-" + (doc.rules.length + 1), scope: vocab.default_scope, priority: 0,
        actions: [{ name: "", params: {} }] });
      changed();
    }, "primary"));
    showMessages();
  }

  function load() {
    try { doc = JSON.parse(textarea.value); } catch (e) { doc = null; }
    render();
  }

  // Each server message carries the path of what it concerns: show it next to that field (or its closest parent).
  function showMessages() {
    root.querySelectorAll(".re-message").forEach(function (node) { node.remove(); });
    root.querySelectorAll(".re-invalid").forEach(function (node) { node.classList.remove("re-invalid"); });
    document.querySelectorAll("#messages li[data-path]").forEach(function (item) {
      var path = item.getAttribute("data-path");
      var target = null;
      while (path && !target) {
        target = root.querySelector('[data-path="' + path.replace(/"/g, '\\"') + '"]');
        path = path.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
        if (path === item.getAttribute("data-path")) { break; }
      }
      if (target) {
        target.classList.add("re-invalid");
        target.appendChild(el("p", { "class": "re-message", role: "alert", text: item.getAttribute("data-message") }));
      }
    });
  }

  document.body.addEventListener("htmx:afterSwap", showMessages);
  document.getElementById("apply-json").addEventListener("click", load);
  load();
})();
