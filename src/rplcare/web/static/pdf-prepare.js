// Report PDF with a sign of progress: fetch it, count the seconds, then hand it over.
(function () {
  "use strict";
  var box = document.getElementById("pdf-prepare");
  if (!box || !window.fetch) { return; }
  var status = document.getElementById("pdf-status");
  var bar = document.getElementById("pdf-progress");
  var ready = document.getElementById("pdf-ready");
  var link = document.getElementById("pdf-link");
  var started = Date.now();
  var base = status.textContent;
  var tick = setInterval(function () {
    var s = Math.round((Date.now() - started) / 1000);
    status.textContent = base + " " + s + " s";
  }, 1000);
  fetch(box.dataset.src, { credentials: "same-origin" })
    .then(function (r) {
      if (!r.ok) { throw new Error("the server answered " + r.status); }
      return r.blob();
    })
    .then(function (blob) {
      clearInterval(tick);
      var url = URL.createObjectURL(blob);
      link.href = url;
      bar.hidden = true;
      ready.hidden = false;
      status.textContent = box.dataset.ready || "The PDF is ready; the download has started.";
      link.click();
      link.focus();
    })
    .catch(function (err) {
      clearInterval(tick);
      bar.hidden = true;
      ready.hidden = false;
      link.href = box.dataset.src;
      status.textContent = box.dataset.failed
        ? box.dataset.failed.replace("%(why)s", err.message)
        : "The PDF could not be prepared (" + err.message + "). Try the link below.";
    });
})();
