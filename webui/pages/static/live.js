// coopnet's live pages: the header's counts and the page's content follow
// what changes (an offer, a job accepted, a comment…) without a reload,
// over Server-Sent Events from /app/live. Without JavaScript every page
// works as it is; this only saves the reload. A page with a form being
// filled in is not replaced: a notice offers the reload instead.
(function () {
  'use strict';
  var body = document.body;
  if (!window.EventSource || !window.fetch || !body.hasAttribute('data-live')) {
    return;
  }
  var dirty = false;
  document.addEventListener('input', function (e) {
    if (e.target && e.target.form) {
      dirty = true;
    }
  }, true);

  function setCount(id, n) {
    var el = document.getElementById(id);
    if (!el) {
      return;
    }
    el.textContent = n > 0 ? String(n) : '';
    el.hidden = !(n > 0);
  }

  function counts(data) {
    var d;
    try {
      d = JSON.parse(data);
    } catch (e) {
      return;
    }
    setCount('count-unread', d.unread);
    setCount('count-offers', d.offers);
  }

  var busy = false;
  var again = false;
  var refreshed = 0;

  // changed reports whether a field of the page's forms differs from what
  // the page came with (typed, picked or set by a script).
  function changed() {
    var fields = document.querySelectorAll('#main input, #main textarea, #main select');
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === 'hidden' || f.type === 'submit' || f.type === 'button') {
        continue;
      }
      if (f.tagName === 'SELECT') {
        // A select without a default shows its first option.
        var initial = f.multiple ? -1 : 0;
        for (var j = 0; j < f.options.length; j++) {
          if (f.options[j].defaultSelected) {
            initial = j;
            break;
          }
        }
        if (!f.multiple && f.selectedIndex !== initial) {
          return true;
        }
      } else if (f.type === 'checkbox' || f.type === 'radio') {
        if (f.checked !== f.defaultChecked) {
          return true;
        }
      } else if (f.value !== f.defaultValue) {
        return true;
      }
    }
    return false;
  }

  function editing() {
    var a = document.activeElement;
    return dirty || changed() || (a && a.form && a.type !== 'submit' && a.type !== 'button');
  }

  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    if (editing()) {
      document.getElementById('live-notice').hidden = false;
      return;
    }
    busy = true;
    fetch(location.href, {credentials: 'same-origin'})
      .then(function (r) {
        if (!r.ok) {
          throw new Error(String(r.status));
        }
        return r.text();
      })
      .then(function (html) {
        if (editing()) {
          document.getElementById('live-notice').hidden = false;
          return;
        }
        var doc = new DOMParser().parseFromString(html, 'text/html');
        var fresh = doc.getElementById('main');
        var main = document.getElementById('main');
        if (!fresh || !main) {
          return;
        }
        // The message of the action just done stays until the next page.
        var flash = main.querySelector(':scope > .flash');
        main.replaceChildren.apply(main, Array.prototype.slice.call(fresh.childNodes).map(function (n) {
          return document.importNode(n, true);
        }));
        if (flash && !main.querySelector(':scope > .flash')) {
          main.insertBefore(flash, main.firstChild);
        }
        ['count-unread', 'count-offers'].forEach(function (id) {
          var el = doc.getElementById(id);
          if (el) {
            setCount(id, parseInt(el.textContent, 10) || 0);
          }
        });
        body.setAttribute('data-refreshed', String(++refreshed));
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  var es = new EventSource('/app/live?since=' + encodeURIComponent(body.getAttribute('data-made') || '0'));
  es.addEventListener('counts', function (e) {
    counts(e.data);
    body.setAttribute('data-live-ready', '1');
  });
  es.addEventListener('change', function (e) {
    counts(e.data);
    body.setAttribute('data-live-ready', '1');
    refresh();
  });
})();
