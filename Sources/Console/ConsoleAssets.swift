import HTTPServer

/// The console's stylesheet and script, served from the binary: a fixed table of
/// names, so no request path ever reaches the file system.
enum ConsoleAssets {
    static func response(for path: String) -> HTTPResponse? {
        switch path {
        case "/static/console.css": asset(stylesheet, "text/css; charset=utf-8")
        case "/static/console.js": asset(script, "text/javascript; charset=utf-8")
        default: nil
        }
    }

    private static func asset(_ text: String, _ type: String) -> HTTPResponse {
        HTTPResponse(
            status: 200, reason: "OK", contentType: type,
            headers: [("Cache-Control", "max-age=300"), ("X-Content-Type-Options", "nosniff")], body: Array(text.utf8))
    }

    static let stylesheet = """
        :root { --ink: #1d2733; --muted: #5b6b7c; --line: #d6dde5; --accent: #0b5cad; --bad: #b3261e; --ok: #1b7f3b; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.45 system-ui, "PingFang SC", "Noto Sans CJK SC", sans-serif; color: var(--ink); background: #f6f8fa; }
        header { background: #102a43; color: #fff; padding: .5rem 1rem; display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center; }
        header a { color: #fff; }
        .brand { font-weight: 700; text-decoration: none; }
        nav { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; flex: 1; }
        nav ul { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: .25rem .9rem; }
        nav a[aria-current] { text-decoration: underline 2px; }
        .logout { margin-left: auto; display: flex; gap: .5rem; align-items: center; }
        main { padding: 1rem; max-width: 1200px; margin: 0 auto; }
        h1 { font-size: 1.4rem; margin: .2rem 0 1rem; }
        table { border-collapse: collapse; width: 100%; background: #fff; margin-bottom: 1.2rem; }
        th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { font-weight: 600; color: var(--muted); font-size: .85rem; }
        td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
        .scroll { overflow-x: auto; }
        form.filters { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); gap: .5rem; margin-bottom: 1rem; }
        label { display: flex; flex-direction: column; font-size: .85rem; color: var(--muted); gap: .15rem; }
        input, select, button { font: inherit; padding: .35rem .5rem; border: 1px solid #9fb3c8; border-radius: 4px; background: #fff; }
        button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
        button.danger { background: var(--bad); border-color: var(--bad); }
        :focus-visible { outline: 3px solid #f0b429; outline-offset: 2px; }
        .notice { background: #e3f0ff; border-left: 4px solid var(--accent); padding: .5rem .75rem; margin-bottom: 1rem; }
        .error { background: #fde8e7; border-left: 4px solid var(--bad); padding: .5rem .75rem; margin-bottom: 1rem; }
        .actions { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: .5rem 0 1rem; }
        pre { background: #fff; border: 1px solid var(--line); padding: .5rem; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
        svg.spark { width: 120px; height: 24px; }
        .state-discarded, .state-cancelled { color: var(--bad); }
        .state-completed { color: var(--ok); }
        .login { max-width: 22rem; margin: 3rem auto; background: #fff; padding: 1.5rem; border: 1px solid var(--line); display: grid; gap: .75rem; }
        @media (max-width: 640px) {
          main { padding: .5rem; }
          table.cards thead { display: none; }
          table.cards tr { display: block; border-bottom: 2px solid var(--line); padding: .3rem 0; }
          table.cards td { display: flex; justify-content: space-between; border: 0; padding: .15rem .4rem; }
          table.cards td::before { content: attr(data-label); color: var(--muted); margin-right: 1rem; }
        }
        """

    /// Live numbers: a page marks its snapshot with `data-live-source` (the URL, the
    /// list of rows in the JSON and the field naming a row), and each number with
    /// `data-live="row|field"`; they are refreshed from that URL (ETag-conditional,
    /// one shared server snapshot) every few seconds while the tab is visible; hidden
    /// tabs stop asking. Fields in fen are shown in yuan, as the server writes them.
    static let script = """
        (function () {
          var source = document.querySelector('[data-live-source]');
          var live = document.querySelectorAll('[data-live]');
          if (!source || live.length === 0) { return; }
          var url = source.getAttribute('data-live-source');
          var rowsName = source.getAttribute('data-live-rows'), keyName = source.getAttribute('data-live-key');
          var etag = null, timer = null;
          function yuan(fen) {
            var cents = Math.abs(fen) % 100;
            return (fen < 0 ? '-' : '') + '¥' + Math.floor(Math.abs(fen) / 100) + '.' + (cents < 10 ? '0' : '') + cents;
          }
          function apply(snapshot) {
            var rows = {};
            snapshot[rowsName].forEach(function (row) { rows[String(row[keyName])] = row; });
            live.forEach(function (element) {
              var parts = element.getAttribute('data-live').split('|');
              var row = rows[parts[0]];
              if (!row || !(parts[1] in row)) { return; }
              var value = row[parts[1]];
              element.textContent = /Fen$/.test(parts[1]) ? yuan(value) : String(value);
            });
          }
          function refresh() {
            var headers = etag ? { 'If-None-Match': etag } : {};
            fetch(url, { headers: headers, credentials: 'same-origin' }).then(function (response) {
              if (response.status === 200) {
                etag = response.headers.get('ETag');
                return response.json().then(apply);
              }
            }).catch(function () {});
          }
          function schedule() {
            clearInterval(timer);
            if (!document.hidden) { timer = setInterval(refresh, 3000); }
          }
          document.addEventListener('visibilitychange', function () { if (!document.hidden) { refresh(); } schedule(); });
          schedule();
        })();
        document.querySelectorAll('[data-select-all]').forEach(function (box) {
          box.addEventListener('change', function () {
            document.querySelectorAll('input[name=id]').forEach(function (item) { item.checked = box.checked; });
          });
        });
        """
}
