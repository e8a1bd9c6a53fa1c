//! MongoDB error codes and their names: every layer that refuses something (wire
//! decoding, classification, authorization, authentication, the upstream) names its
//! error here, so a code and its `codeName` can never disagree. Values are mongod's
//! (`src/mongo/base/error_codes.yml`, and the `Location<N>` assertions).

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal, $name:literal;)*) => {
        /// A MongoDB error code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, for tests and tables.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The numeric `code`.
            pub const fn code(self) -> i32 {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            /// The `codeName` drivers show.
            pub const fn name(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)*
                }
            }
        }
    };
}

codes! {
    InternalError = 1, "InternalError";
    BadValue = 2, "BadValue";
    HostUnreachable = 6, "HostUnreachable";
    FailedToParse = 9, "FailedToParse";
    Unauthorized = 13, "Unauthorized";
    TypeMismatch = 14, "TypeMismatch";
    Overflow = 15, "Overflow";
    ProtocolError = 17, "ProtocolError";
    AuthenticationFailed = 18, "AuthenticationFailed";
    InvalidBson = 22, "InvalidBSON";
    CursorNotFound = 43, "CursorNotFound";
    MaxTimeMsExpired = 50, "MaxTimeMSExpired";
    CommandNotFound = 59, "CommandNotFound";
    InvalidNamespace = 73, "InvalidNamespace";
    NetworkTimeout = 89, "NetworkTimeout";
    ShutdownInProgress = 91, "ShutdownInProgress";
    PrimarySteppedDown = 189, "PrimarySteppedDown";
    MechanismUnavailable = 334, "MechanismUnavailable";
    UnsupportedOpQueryCommand = 352, "UnsupportedOpQueryCommand";
    NotWritablePrimary = 10107, "NotWritablePrimary";
    BsonObjectTooLarge = 10334, "BSONObjectTooLarge";
    InterruptedAtShutdown = 11600, "InterruptedAtShutdown";
    InterruptedDueToReplStateChange = 11602, "InterruptedDueToReplStateChange";
    NotPrimaryNoSecondaryOk = 13435, "NotPrimaryNoSecondaryOk";
    NotPrimaryOrSecondary = 13436, "NotPrimaryOrSecondary";
    Location40324 = 40324, "Location40324";
    Location40415 = 40415, "Location40415";
    Location40472 = 40472, "Location40472";
    Location40621 = 40621, "Location40621";
    /// "OP_QUERY is no longer supported" (mongod 5.1+ answers legacy queries with it).
    OpQueryNotSupported = 5739101, "Location5739101";
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;
    use std::collections::HashSet;

    #[test]
    fn codes_and_names_are_unique() {
        let codes: HashSet<i32> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
        let names: HashSet<&str> = ErrorCode::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(codes.len(), ErrorCode::ALL.len());
        assert_eq!(names.len(), ErrorCode::ALL.len());
        assert_eq!(
            (
                ErrorCode::Unauthorized.code(),
                ErrorCode::Unauthorized.name()
            ),
            (13, "Unauthorized")
        );
        assert_eq!(ErrorCode::BsonObjectTooLarge.name(), "BSONObjectTooLarge");
    }
}
