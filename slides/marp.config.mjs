// slides/marp.config.mjs — Marp settings that have no command-line flag; scripts/slides passes it
// with --config-file. Everything else (formats, theme set, browser) is on scripts/slides' command line.
export default {
  lang: 'en',
  options: {
    // Decks wrap long paragraphs in the source; without this Marp turns every newline into <br>.
    markdown: { breaks: false },
  },
}
