//! `dirdav check`: the calendar objects and vCards of a tree that a client would be
//! refused if it wrote them now (RFC 5545, RFC 4791, RFC 6350), each named with its
//! file and line as `path:line: why`, the form editors and CI logs link. Files put in
//! the tree by hand or by git never passed the checks a PUT makes; clients that sync
//! them (calcurse, say) may stop at the first.

use std::path::{Path, PathBuf};

/// What a tree holds that clients would be refused for.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Each problem: the file, and what is wrong at which line.
    pub(crate) problems: Vec<(PathBuf, dirdav_plugin::contentline::Problem)>,
    /// How many calendar objects and vCards were read.
    pub(crate) checked: usize,
}

/// The collection kind a folder's `.dav.toml` declares, if any.
fn kind_of(folder: &Path) -> Option<String> {
    let text = std::fs::read_to_string(folder.join(".dav.toml")).ok()?;
    let table: toml::Table = text.parse().ok()?;
    table.get("kind")?.as_str().map(str::to_owned)
}

/// Reads every calendar object (`.ics` in a calendar) and vCard (`.vcf` in an address
/// book) below `root`, dot folders (`.git`, state) left out.
pub(crate) fn run(root: &Path) -> Result<Report, String> {
    if !root.is_dir() {
        return Err(format!("{}: no such folder", root.display()));
    }
    let mut report = Report::default();
    let folders = walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_dir());
    for folder in folders {
        let (check, extension): (fn(&[u8]) -> Vec<_>, _) = match kind_of(folder.path()).as_deref() {
            Some(dirdav_caldav::KIND) => (dirdav_caldav::check, "ics"),
            Some(dirdav_carddav::KIND) => (dirdav_carddav::check, "vcf"),
            _ => continue,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(folder.path())
            .map_err(|e| format!("{}: {e}", folder.path().display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == extension))
            .collect();
        files.sort();
        for file in files {
            let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            report.checked += 1;
            for problem in check(&bytes) {
                report.problems.push((file.clone(), problem));
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_named_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let cal = dir.path().join("alice/calendar");
        std::fs::create_dir_all(&cal).unwrap();
        std::fs::write(cal.join(".dav.toml"), "kind = \"calendar\"\n").unwrap();
        std::fs::write(
            cal.join("a.ics"),
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VEVENT\r\nUID:a\r\n\
             DTSTART:20261201T100000Z\r\nLOCATION:Dr. Weber\\, Hauptstr. 5\r\n\
             SUMMARY:say \\\"hi\\\"\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        )
        .unwrap();
        std::fs::write(cal.join("notes.txt"), "not an item").unwrap();
        let book = dir.path().join("alice/contacts");
        std::fs::create_dir_all(&book).unwrap();
        std::fs::write(book.join(".dav.toml"), "kind = \"addressbook\"\n").unwrap();
        std::fs::write(book.join("x.vcf"), "hello").unwrap();
        // A hidden folder is not read.
        std::fs::create_dir_all(dir.path().join(".git/cal")).unwrap();
        std::fs::write(
            dir.path().join(".git/cal/.dav.toml"),
            "kind = \"calendar\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join(".git/cal/b.ics"), "junk").unwrap();

        let report = run(dir.path()).unwrap();
        assert_eq!(report.checked, 2);
        let found: Vec<(String, usize)> = report
            .problems
            .iter()
            .map(|(p, problem)| {
                let name = p.strip_prefix(dir.path()).unwrap().display().to_string();
                (name, problem.line)
            })
            .collect();
        assert_eq!(
            found,
            [
                ("alice/calendar/a.ics".to_owned(), 8),
                ("alice/contacts/x.vcf".to_owned(), 1)
            ]
        );
    }
}
