//! A task's [`JobLocations`] checked against this agent's roots before it touches a file,
//! whatever the scheduler accepted: the input within `--allow-input`, the output within
//! `--allow-output`, and the work area exactly `<output>/.shotfarm-work/<one name>`, so a spec
//! can neither read outside the roots nor make the report task delete anything but a work area.

use shotfarm_proto::pipeline::JobLocations;
use shotfarm_proto::storage::{JobRoots, StorageUrl};

use super::TaskError;

/// The folder of the output location that holds the work areas of jobs.
pub const WORK_FOLDER: &str = ".shotfarm-work";

/// The locations, normalised.
#[derive(Debug, Clone)]
pub struct CheckedLocations {
    pub input: StorageUrl,
    pub output: StorageUrl,
    pub work: StorageUrl,
}

/// Refuses (non-retryable) locations outside the roots or a work area anywhere else.
pub fn check_locations(locations: &JobLocations, roots: &JobRoots) -> Result<CheckedLocations, TaskError> {
    let refused = |error: shotfarm_proto::storage::RootError| TaskError::final_error(error.to_string());
    let input = roots.input.check(&locations.input_url).map_err(refused)?;
    let output = roots.output.check(&locations.output_url).map_err(refused)?;
    let work = roots.output.check(&locations.work_url).map_err(refused)?;
    match work.relative_to(&output) {
        Some([folder, _job]) if folder == WORK_FOLDER => Ok(CheckedLocations { input, output, work }),
        _ => Err(TaskError::final_error(format!(
            "work area {work} is not {output}/{WORK_FOLDER}/<job>; refusing a spec that would write or delete outside the job's work area"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locations(input: &str, output: &str, work: &str) -> JobLocations {
        JobLocations { input_url: input.into(), output_url: output.into(), work_url: work.into(), overwrite: false }
    }

    #[test]
    fn locations_must_lie_within_the_roots() {
        let roots = JobRoots::parse(Some("file:///media/in"), Some("file:///media/out")).unwrap();
        let checked = check_locations(&locations("file:///media/in/a.mp4", "file:///media/out/x", "file:///media/out/x/.shotfarm-work/job-1-5"), &roots).unwrap();
        assert_eq!(checked.work.as_str(), "file:///media/out/x/.shotfarm-work/job-1-5");
        for (input, output, work, says) in [
            ("file:///etc/passwd", "file:///media/out/x", "file:///media/out/x/.shotfarm-work/j", "outside the allowed input roots"),
            ("file:///media/in/.%2e/etc/passwd", "file:///media/out/x", "file:///media/out/x/.shotfarm-work/j", "'..'"),
            ("file:///media/in/a.mp4", "file:///etc", "file:///etc/.shotfarm-work/j", "outside the allowed output roots"),
            ("file:///media/in/a.mp4", "file:///media/out/x", "file:///media/out/x", "is not file:///media/out/x/.shotfarm-work/<job>"),
            ("file:///media/in/a.mp4", "file:///media/out/x", "file:///media/out/y/.shotfarm-work/j", "is not"),
            ("file:///media/in/a.mp4", "file:///media/out/x", "file:///media/out/x/.shotfarm-work/j/deeper", "is not"),
        ] {
            let error = check_locations(&locations(input, output, work), &roots).unwrap_err();
            assert!(error.is_final() && error.to_string().contains(says), "{input} {output} {work}: {error}");
        }
        let none = JobRoots::parse(None, None).unwrap();
        let error = check_locations(&locations("file:///media/in/a.mp4", "file:///media/out/x", "file:///media/out/x/.shotfarm-work/j"), &none).unwrap_err();
        assert!(error.to_string().contains("no input roots are configured"), "{error}");
    }
}
