import { describe, expect, it } from 'vitest';
import { foreignMarkup } from './test-data.js';

// The hostile-input tests rely on foreignMarkup; it must see the injections it is there to catch.
describe('foreignMarkup', () => {
  it('accepts the markup the pages write', () => {
    expect(
      foreignMarkup(
        '<!doctype html>\n<p class="a">x &lt;b&gt; &quot;</p><a href="/plugins/x">y</a><a href="#">z</a>',
      ),
    ).toEqual([]);
  });

  it.each([
    ['<p><script>alert(1)</script></p>', 'tag <script>'],
    ['<p><img src=x onerror=alert(1)></p>', 'tag <img>'],
    ['<p title="" onerror="alert(1)">x</p>', 'attribute onerror on <p>'],
    ['<p title=""><b>x</b></p>', 'tag <b>'],
    ['<a href="javascript:alert(1)">x</a>', 'link href="javascript:alert(1)"'],
    ['<p title="a" x>y</p>', 'unparsed "x" in <p>'],
    ['<p>a " b</p>', 'raw character in text: a " b'],
  ])('reports %s', (html, finding) => {
    expect(foreignMarkup(html)).toContain(finding);
  });
});
