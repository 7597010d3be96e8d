// Renders the OpenAPI document of this server (/openapi.json) as a reference page, with a
// form per operation to send it. Plain JavaScript, no dependencies, nothing fetched but
// this server's own document: the page works without internet access.
(function () {
  "use strict";

  var spec = null;
  var TOKEN_KEY = "openhms.docs.token";

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        if (key === "class") node.className = attrs[key];
        else if (key === "text") node.textContent = attrs[key];
        else if (key === "html") node.innerHTML = attrs[key];
        else node.setAttribute(key, attrs[key]);
      });
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function escapeHtml(text) {
    return String(text)
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;");
  }

  // The little Markdown the document uses: paragraphs, `code` and **bold**.
  function prose(text) {
    var box = el("div", { class: "prose" });
    String(text || "")
      .split(/\n\n+/)
      .forEach(function (paragraph) {
        var html = escapeHtml(paragraph)
          .replace(/`([^`]+)`/g, "<code>$1</code>")
          .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>");
        box.appendChild(el("p", { html: html }));
      });
    return box;
  }

  function refName(ref) {
    return decodeURIComponent(ref.split("/").pop().replace(/~1/g, "/").replace(/~0/g, "~"));
  }

  function resolve(schema) {
    var seen = 0;
    while (schema && schema.$ref && seen < 20) {
      schema = (spec.components.schemas || {})[refName(schema.$ref)] || {};
      seen += 1;
    }
    return schema || {};
  }

  function typeLabel(schema) {
    if (schema === true || schema === undefined) return "any";
    if (schema === false) return "never";
    if (schema.$ref) return refName(schema.$ref);
    if (schema.const !== undefined) return JSON.stringify(schema.const);
    if (schema.enum) return schema.enum.map(function (v) { return JSON.stringify(v); }).join(" | ");
    var options = schema.anyOf || schema.oneOf;
    if (options) return options.map(typeLabel).join(" | ");
    var types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
    return (
      types
        .map(function (type) {
          if (type === "array") return "array<" + typeLabel(schema.items) + ">";
          if (type === "object" && schema.additionalProperties && schema.additionalProperties !== true) {
            return "map<string, " + typeLabel(schema.additionalProperties) + ">";
          }
          if (schema.format && type !== "object") return type + " (" + schema.format + ")";
          return type;
        })
        .join(" | ") || "any"
    );
  }

  // The object schema a property leads to, if any: to be shown nested.
  function nestedObject(schema) {
    if (!schema || schema === true) return null;
    var options = schema.anyOf || schema.oneOf;
    if (options) {
      for (var i = 0; i < options.length; i += 1) {
        var found = nestedObject(options[i]);
        if (found) return found;
      }
      return null;
    }
    var target = resolve(schema);
    if (target.properties) return { schema: target, name: schema.$ref ? refName(schema.$ref) : "object" };
    if (target.items) return nestedObject(target.items);
    if (target.additionalProperties && target.additionalProperties !== true) {
      return nestedObject(target.additionalProperties);
    }
    return null;
  }

  // A table of an object's fields; nested objects open on demand (so recursive types end).
  function schemaView(schema, depth) {
    var box = el("div", { class: "schema" });
    var target = resolve(schema);
    if (!target.properties) {
      box.appendChild(el("p", {}, [el("span", { class: "type", text: typeLabel(schema) })]));
      var inner = nestedObject(schema);
      if (inner && depth < 12) box.appendChild(schemaView({ $ref: "#/components/schemas/" + inner.name }, depth + 1));
      if (target.description) box.appendChild(prose(target.description));
      return box;
    }
    if (target.description && depth === 0) box.appendChild(prose(target.description));
    var required = target.required || [];
    var table = el("table", {}, [el("tr", {}, [el("th", { text: "Field" }), el("th", { text: "Type" }), el("th", { text: "Description" })])]);
    Object.keys(target.properties).forEach(function (name) {
      var property = target.properties[name];
      var described = property.description || resolve(property).description || "";
      var cell = el("td", {}, [described ? prose(described) : null]);
      var nested = nestedObject(property);
      if (nested && depth < 12) {
        var details = el("details", {}, [el("summary", { text: nested.name + " fields" })]);
        var rendered = false;
        details.addEventListener("toggle", function () {
          if (details.open && !rendered) {
            rendered = true;
            details.appendChild(schemaView(nested.schema, depth + 1));
          }
        });
        cell.appendChild(details);
      }
      table.appendChild(
        el("tr", {}, [
          el("td", { class: "name" }, [name, required.indexOf(name) >= 0 ? el("span", { class: "req", text: "required" }) : null]),
          el("td", { class: "type", text: typeLabel(property) }),
          cell,
        ])
      );
    });
    box.appendChild(table);
    return box;
  }

  function parameterTable(parameters) {
    var table = el("table", {}, [
      el("tr", {}, [el("th", { text: "Name" }), el("th", { text: "In" }), el("th", { text: "Type" }), el("th", { text: "Description" })]),
    ]);
    parameters.forEach(function (p) {
      table.appendChild(
        el("tr", {}, [
          el("td", { class: "name" }, [p.name, p.required ? el("span", { class: "req", text: "required" }) : null]),
          el("td", { text: p.in }),
          el("td", { class: "type", text: typeLabel(p.schema || {}) }),
          el("td", {}, [prose(p.description || "")]),
        ])
      );
    });
    return table;
  }

  // The anchor of an operation: its operationId, so that links like /docs#create-room work.
  function anchorOf(method, path, op) {
    return op.operationId || method + "-" + path.replace(/[^a-zA-Z0-9]+/g, "-");
  }

  function tryIt(method, path, op) {
    var box = el("div", { class: "try" }, [el("h4", { text: "Try it" })]);
    var inputs = {};
    (op.parameters || []).forEach(function (p) {
      var input = el("input", { type: "text", spellcheck: "false", placeholder: typeLabel(p.schema || {}) });
      inputs[p.in + ":" + p.name] = { parameter: p, input: input };
      box.appendChild(el("label", {}, [p.name + " (" + p.in + ")", input]));
    });
    var bodyInput = null;
    if (op.requestBody) {
      var media = (op.requestBody.content || {})["application/json"] || {};
      var examples = media.examples || {};
      var first = Object.keys(examples)[0];
      bodyInput = el("textarea", { spellcheck: "false" });
      bodyInput.value = first ? JSON.stringify(examples[first].value, null, 2) : "{}";
      box.appendChild(el("label", {}, ["Body (JSON)", bodyInput]));
    }
    var output = el("pre", { class: "hidden" });
    var button = el("button", { type: "button", text: "Send " + method.toUpperCase() });
    button.addEventListener("click", function () {
      var url = path;
      var query = [];
      Object.keys(inputs).forEach(function (key) {
        var entry = inputs[key];
        var value = entry.input.value;
        if (entry.parameter.in === "path") url = url.replace("{" + entry.parameter.name + "}", encodeURIComponent(value));
        else if (value !== "") query.push(encodeURIComponent(entry.parameter.name) + "=" + encodeURIComponent(value));
      });
      if (query.length) url += "?" + query.join("&");
      var headers = { Accept: "application/json" };
      var secured = !(Array.isArray(op.security) && op.security.length === 0);
      var token = document.getElementById("token").value.trim();
      if (secured && token) headers.Authorization = "Bearer " + token;
      var init = { method: method.toUpperCase(), headers: headers };
      if (bodyInput) {
        headers["Content-Type"] = "application/json";
        init.body = bodyInput.value;
      }
      output.classList.remove("hidden");
      output.textContent = method.toUpperCase() + " " + url + "\n…";
      fetch(url, init)
        .then(function (response) {
          return response.text().then(function (text) {
            var shown = text;
            try {
              shown = JSON.stringify(JSON.parse(text), null, 2);
            } catch (e) {
              /* not JSON: shown as it is */
            }
            output.textContent = method.toUpperCase() + " " + url + "\n" + response.status + " " + response.statusText + "\n\n" + shown;
          });
        })
        .catch(function (error) {
          output.textContent = method.toUpperCase() + " " + url + "\n" + error;
        });
    });
    box.appendChild(button);
    box.appendChild(output);
    return box;
  }

  function operationView(method, path, op) {
    var details = el("details", { class: "op", id: anchorOf(method, path, op) });
    var badges = [];
    if (op["x-openhms-simulator"]) badges.push(el("span", { class: "badge warn", text: "--simulate-peers" }));
    if (op["x-openhms-alias-of"]) badges.push(el("span", { class: "badge", text: "alias of " + op["x-openhms-alias-of"] }));
    if (Array.isArray(op.security) && op.security.length === 0) badges.push(el("span", { class: "badge", text: "no token" }));
    details.appendChild(
      el("summary", {}, [
        el("span", { class: "method " + method, text: method.toUpperCase() }),
        el("span", { class: "path", text: path }),
      ].concat(badges, [el("span", { class: "summary", text: op.summary || "" })]))
    );
    var rendered = false;
    details.addEventListener("toggle", function () {
      if (!details.open || rendered) return;
      rendered = true;
      var body = el("div", { class: "body" });
      body.appendChild(el("p", { class: "muted" }, ["operationId ", el("code", { text: op.operationId || "" })]));
      body.appendChild(prose(op.description || ""));
      if (op.parameters && op.parameters.length) {
        body.appendChild(el("h4", { text: "Parameters" }));
        body.appendChild(parameterTable(op.parameters));
      }
      if (op.requestBody) {
        var media = (op.requestBody.content || {})["application/json"] || {};
        body.appendChild(el("h4", { text: "Request body (application/json)" }));
        body.appendChild(schemaView(media.schema || {}, 0));
        var examples = media.examples || {};
        Object.keys(examples).forEach(function (name) {
          body.appendChild(el("p", { class: "muted" }, ["Example ", el("code", { text: name })]));
          body.appendChild(el("pre", { text: JSON.stringify(examples[name].value, null, 2) }));
        });
      }
      body.appendChild(el("h4", { text: "Responses" }));
      Object.keys(op.responses || {}).forEach(function (status) {
        var response = op.responses[status];
        if (response.$ref) response = ((spec.components || {}).responses || {})[refName(response.$ref)] || {};
        var ok = status.charAt(0) === "2";
        var line = el("p", {}, [el("span", { class: "status " + (ok ? "ok" : "err"), text: status }), " " + (response.description || "")]);
        body.appendChild(line);
        var media = (response.content || {})["application/json"];
        if (media && media.schema && ok) body.appendChild(schemaView(media.schema, 0));
        else if (media && media.schema) line.appendChild(el("span", { class: "type", text: " " + typeLabel(media.schema) }));
      });
      body.appendChild(tryIt(method, path, op));
      details.appendChild(body);
    });
    details.dataset.search = [method, path, op.operationId, op.summary, (op.tags || []).join(" ")].join(" ").toLowerCase();
    return details;
  }

  function render() {
    var info = spec.info || {};
    var intro = document.getElementById("intro");
    intro.innerHTML = "";
    intro.appendChild(el("h1", { text: (info.title || "API") + " " + (info.version || "") }));
    if (info.summary) intro.appendChild(el("p", { class: "muted", text: info.summary }));
    intro.appendChild(prose(info.description || ""));

    var tags = (spec.tags || []).map(function (tag) { return tag.name; });
    var byTag = {};
    Object.keys(spec.paths || {}).forEach(function (path) {
      var item = spec.paths[path];
      ["get", "post", "put", "patch", "delete"].forEach(function (method) {
        var op = item[method];
        if (!op) return;
        var tag = (op.tags && op.tags[0]) || "Other";
        if (tags.indexOf(tag) < 0) tags.push(tag);
        (byTag[tag] = byTag[tag] || []).push({ method: method, path: path, op: op });
      });
    });

    var sidebar = document.getElementById("sidebar");
    var container = document.getElementById("operations");
    sidebar.innerHTML = "";
    container.innerHTML = "";
    tags.forEach(function (tag) {
      var entries = byTag[tag] || [];
      if (!entries.length) return;
      var description = (spec.tags || []).filter(function (t) { return t.name === tag; })[0];
      var section = el("section", { class: "tag", id: "tag-" + tag.replace(/[^a-zA-Z0-9]+/g, "-") }, [el("h2", { text: tag })]);
      if (description && description.description) section.appendChild(prose(description.description));
      container.appendChild(section);
      var heading = el("h3", { text: tag });
      sidebar.appendChild(heading);
      entries.forEach(function (entry) {
        var view = operationView(entry.method, entry.path, entry.op);
        container.appendChild(view);
        var link = el("a", { href: "#" + view.id }, [
          el("span", { class: "method " + entry.method, text: entry.method.toUpperCase() }),
          el("span", { text: entry.op.summary || entry.path }),
        ]);
        link.dataset.target = view.id;
        link.addEventListener("click", function () { view.open = true; });
        sidebar.appendChild(link);
      });
    });
    if (location.hash) {
      var target = document.getElementById(location.hash.slice(1));
      if (target && target.tagName === "DETAILS") {
        target.open = true;
        target.scrollIntoView();
      }
    }
  }

  function applyFilter(text) {
    var needle = text.trim().toLowerCase();
    document.querySelectorAll("#operations .op").forEach(function (op) {
      op.classList.toggle("hidden", needle !== "" && op.dataset.search.indexOf(needle) < 0);
    });
    document.querySelectorAll("#sidebar a").forEach(function (link) {
      var op = document.getElementById(link.dataset.target);
      link.classList.toggle("hidden", op.classList.contains("hidden"));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var token = document.getElementById("token");
    try {
      token.value = localStorage.getItem(TOKEN_KEY) || "";
      token.addEventListener("change", function () { localStorage.setItem(TOKEN_KEY, token.value.trim()); });
    } catch (e) {
      /* storage unavailable: the token lasts for the page */
    }
    document.getElementById("filter").addEventListener("input", function (event) { applyFilter(event.target.value); });
    fetch("/openapi.json", { headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("/openapi.json answered " + response.status);
        return response.json();
      })
      .then(function (document_) {
        spec = document_;
        render();
      })
      .catch(function (error) {
        document.getElementById("intro").textContent = "Could not load the OpenAPI document: " + error;
      });
  });
})();
